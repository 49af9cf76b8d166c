package pkjwtfosite_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME checks that the code of this integration's section of
// ../README.md is the code Example runs, line for line.
func TestREADME(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n## fosite")
	if !ok {
		t.Fatal("README.md has no section ## fosite")
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the section has no go code block")
	}
	want := trimLines(block)
	lines := trimLines(string(example))
	for i := range lines {
		if len(lines)-i >= len(want) && equal(lines[i:i+len(want)], want) {
			return
		}
	}
	t.Errorf("example_test.go does not contain the README's code:\n%s", block)
}

// trimLines returns the lines of s without indentation and blank lines.
func trimLines(s string) []string {
	var out []string
	for line := range strings.Lines(s) {
		if line = strings.TrimSpace(line); line != "" {
			out = append(out, line)
		}
	}
	return out
}

func equal(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}
