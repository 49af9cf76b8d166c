package sqltest

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

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

// tree returns pid and its descendants. PostgreSQL's backends each call
// setsid, so a process group does not reach them; their parent does.
func tree(pid int) []int {
	children := map[int][]int{}
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, d := range dirs {
		child, _ := strconv.Atoi(filepath.Base(filepath.Dir(d)))
		if _, ppid, ok := readStat(d); ok {
			children[ppid] = append(children[ppid], child)
		}
	}
	all := []int{pid}
	for i := 0; i < len(all); i++ {
		all = append(all, children[all[i]]...)
	}
	return all
}

// killGroup kills pid and its descendants and waits until the
// descendants are gone (the caller waits for pid itself). pid is stopped
// first, so that it forks no child the kill would miss.
func killGroup(pid int) {
	_ = syscall.Kill(pid, syscall.SIGSTOP)
	procs := tree(pid)
	for _, p := range procs {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range procs[1:] {
		for alive(p) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
}

// alive reports whether process pid exists and is not a zombie (which
// holds no sockets or files).
func alive(pid int) bool {
	st, _, ok := readStat("/proc/" + strconv.Itoa(pid) + "/stat")
	return ok && st != 'Z' && st != 'X'
}

// readStat reads the state and parent pid from a /proc stat file:
// "pid (comm) state ppid ...", where comm may hold spaces and parentheses.
func readStat(path string) (state byte, ppid int, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 || len(f[0]) != 1 {
		return 0, 0, false
	}
	ppid, err = strconv.Atoi(f[1])
	return f[0][0], ppid, err == nil
}

// signalGroup stops (SIGSTOP) or continues (SIGCONT) pid and its
// descendants. Stopping waits until every thread of them has stopped, so
// that nothing is answered after it returns.
func signalGroup(pid int, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	procs := tree(pid)
	for _, p := range procs {
		if err := syscall.Kill(p, sig); err != nil && p == pid {
			return err
		}
	}
	if !stop {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range procs {
		for !stopped(p) {
			if time.Now().After(deadline) {
				return errors.New("sqltest: server did not stop within 5s")
			}
			time.Sleep(time.Millisecond)
		}
	}
	return nil
}

// stopped reports whether every thread of pid is stopped (or gone).
func stopped(pid int) bool {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/stat")
	for _, t := range tasks {
		if st, _, ok := readStat(t); ok && st != 'T' && st != 't' && st != 'Z' && st != 'X' {
			return false
		}
	}
	return true
}
