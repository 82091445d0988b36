//go:build linux

package pgserver

import "syscall"

// sysProcAttr puts the child in its own process group (so Stop can kill the whole
// server, and a terminal's Ctrl-C reaches only this process, which stops the server
// itself) and has the kernel send SIGQUIT (immediate shutdown) to it if this process
// dies without stopping it (strictly: when the OS thread that started it exits, which
// for a Go program is in practice when the process dies). Go sets the parent-death
// signal after switching credentials, so the kernel does not clear it. As root, the
// child runs as cred.
func sysProcAttr(cred *syscall.Credential) *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGQUIT, Credential: cred}
}

func killGroup(pgid int) { _ = syscall.Kill(-pgid, syscall.SIGKILL) }
