//go:build unix && !linux

package sqltest

import "syscall"

func sysProcAttr(uid, gid int) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return a
}

// killGroup kills the process group led by pid (PostgreSQL's backends,
// which leave it, notice their postmaster's death and exit).
func killGroup(pid int) { _ = syscall.Kill(-pid, syscall.SIGKILL) }

// signalGroup stops or continues the process group led by pid; it does
// not reach PostgreSQL's backends on this system.
func signalGroup(pid int, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	return syscall.Kill(-pid, sig)
}

func tree(pid int) []int { return []int{pid} }
