//go:build !linux

package sign_test

import "time"

// processCPU is not measured outside Linux; cpu-ns/op then reads 0.
func processCPU() time.Duration { return 0 }
