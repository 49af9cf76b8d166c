package sqltest

import "syscall"

// sysProcAttr puts the server in a process group of its own, runs it as
// uid:gid unless uid is negative, and makes the kernel kill it if the
// process that started it dies without closing it.
func sysProcAttr(uid, gid int) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if uid >= 0 {
		a.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}
	return a
}
