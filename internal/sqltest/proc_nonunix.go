//go:build !unix

package sqltest

import (
	"errors"
	"os"
	"syscall"
)

func sysProcAttr(uid, gid int) *syscall.SysProcAttr { return nil }

func killGroup(pid int) {
	if p, err := os.FindProcess(pid); err == nil {
		_ = p.Kill()
	}
}

func signalGroup(pid int, stop bool) error {
	return errors.New("sqltest: pausing a server needs a Unix system")
}

func tree(pid int) []int { return []int{pid} }
