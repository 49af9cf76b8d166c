//go:build !unix

package replay

import "os"

// lockFile opens path. Without flock, nothing stops two processes from
// sharing one state file: give each its own StatePath.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
