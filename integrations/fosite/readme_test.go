package pkjwtfosite_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME checks that the code of this integration's section of
// ../README.md and of the top README is the code Example runs, line for line.
func TestREADME(t *testing.T) {
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := trimLines(string(example))
	for _, file := range []string{"../README.md", "../../README.md"} {
		readme, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, section, ok := strings.Cut(string(readme), "# fosite")
		if !ok {
			t.Fatalf("%s has no section on fosite", file)
		}
		_, block, ok := strings.Cut(section, "```go\n")
		block, _, closed := strings.Cut(block, "```")
		if !ok || !closed {
			t.Fatalf("%s: the section has no go code block", file)
		}
		if !contains(lines, trimLines(block)) {
			t.Errorf("example_test.go does not contain the code of %s:\n%s", file, block)
		}
	}
}

// contains reports whether want appears in lines as a run.
func contains(lines, want []string) bool {
	for i := range lines {
		if len(lines)-i >= len(want) && equal(lines[i:i+len(want)], want) {
			return true
		}
	}
	return false
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
