//go:build unix

package sqltest

import "syscall"

// killGroup kills the process group led by pid.
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// signalGroup stops (SIGSTOP) or continues (SIGCONT) the process group led
// by pid.
func signalGroup(pid int, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return syscall.Kill(-pid, sig)
}
