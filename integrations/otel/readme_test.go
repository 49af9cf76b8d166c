package pkjwtotel_test

import (
	"os"
	"strings"
	"testing"
)

// TestREADME checks that the code of the top README's Observability
// section is the code Example runs, line for line.
func TestREADME(t *testing.T) {
	example, err := os.ReadFile("example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "## Observability")
	if !ok {
		t.Fatal("README.md has no Observability section")
	}
	_, block, ok := strings.Cut(section, "```go\n")
	block, _, closed := strings.Cut(block, "```")
	if !ok || !closed {
		t.Fatal("the Observability section has no go code block")
	}
	if !strings.Contains(strings.Join(trimLines(string(example)), "\n"), strings.Join(trimLines(block), "\n")) {
		t.Errorf("example_test.go does not contain the README's code:\n%s", block)
	}
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
