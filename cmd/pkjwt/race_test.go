//go:build race

package main

// The binary under test gets the race detector too.
func init() { buildFlags = append(buildFlags, "-race") }
