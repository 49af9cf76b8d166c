package main

import (
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	for _, c := range commands {
		for _, flag := range []string{"-h", "-help"} {
			r := pkjwt(t, "", c.name, flag)
			if r.code != 0 || !strings.HasPrefix(r.stderr, "Usage: pkjwt "+c.name) || r.stdout != "" {
				t.Errorf("%s %s: %v", c.name, flag, r)
			}
			if c.name != "demo" && !strings.Contains(r.stderr, "Flags:") {
				t.Errorf("%s %s: no flags listed:\n%s", c.name, flag, r.stderr)
			}
		}
	}
	for _, args := range [][]string{{"help"}, {"-h"}} {
		r := pkjwt(t, "", args...)
		if r.code != 0 {
			t.Errorf("%v: %v", args, r)
		}
		for _, c := range commands {
			if !strings.Contains(r.stdout, "pkjwt "+c.name) {
				t.Errorf("%v does not list %s:\n%s", args, c.name, r.stdout)
			}
		}
	}
	if r := pkjwt(t, ""); r.code != 2 || !strings.Contains(r.stderr, "Usage:") {
		t.Errorf("no arguments: %v", r)
	}
	if r := pkjwt(t, "", "frobnicate"); r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %v", r)
	}
	if r := pkjwt(t, "", "demo", "extra"); r.code != 2 || !strings.Contains(r.stderr, "unexpected argument") {
		t.Errorf("demo extra: %v", r)
	}
}
