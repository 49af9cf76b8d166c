package pkjwtfosite_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME checks that every code block of this integration's section of
// ../README.md and of the top README is code that Example or
// Example_hydraStyle runs, line for line.
func TestREADME(t *testing.T) {
	var lines []string
	for _, name := range []string{"example_test.go", "hydra_example_test.go"} {
		example, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, trimLines(string(example))...)
	}
	for _, file := range []string{"../README.md", "../../README.md"} {
		readme, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		_, section, ok := strings.Cut(string(readme), "# fosite")
		if !ok {
			t.Fatalf("%s has no section on fosite", file)
		}
		section, _, _ = strings.Cut(section, "# zitadel")
		blocks := 0
		for {
			_, block, ok := strings.Cut(section, "```go\n")
			if !ok {
				break
			}
			block, section, ok = strings.Cut(block, "```")
			if !ok {
				t.Fatalf("%s: unclosed go code block", file)
			}
			blocks++
			if !contains(lines, trimLines(block)) {
				t.Errorf("the examples do not contain the code of %s:\n%s", file, block)
			}
		}
		if blocks == 0 {
			t.Fatalf("%s: the section has no go code block", file)
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
