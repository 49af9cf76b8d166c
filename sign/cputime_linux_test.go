package sign_test

import (
	"syscall"
	"time"
	"unsafe"
)

// processCPU returns the CPU time the process has used: unlike wall time,
// it does not grow while other processes of a shared machine run.
func processCPU() time.Duration {
	const clockProcessCPUTimeID = 2 // CLOCK_PROCESS_CPUTIME_ID
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return 0
	}
	return time.Duration(ts.Nano())
}
