//go:build !linux

package oidcprovidertest

import "syscall"

func sysProcAttr() *syscall.SysProcAttr { return nil }
