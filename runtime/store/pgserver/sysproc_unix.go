//go:build unix && !linux

package pgserver

import "syscall"

// sysProcAttr puts the child in its own process group; there is no parent-death signal
// outside Linux. As root, the child runs as cred.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Credential: cred}
}

func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
