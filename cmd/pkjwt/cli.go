package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Exit statuses.
const (
	exitOK      = 0 // success
	exitFailure = 1 // the operation failed, such as a check of verify
	exitUsage   = 2 // bad flags, arguments or configuration
)

// stdio are a command's standard streams.
type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// command is one subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, std stdio, args []string) error
}

var commands = []command{
	{"demo", "run a server, mint an assertion, get a token, replay it (start here)", runDemo},
	{"serve", "run the reference authorization server", runServe},
	{"mint", "print a signed client assertion", runMint},
	{"verify", "explain why a client assertion is accepted or rejected", runVerify},
	{"probe", "audit a token endpoint's private_key_jwt checks from the outside", runProbe},
	{"keygen", "generate a client key pair and its JWK Set", runKeygen},
	{"token", "get an access token with private_key_jwt (client_credentials)", runToken},
}

// exitError carries an exit status; errors of other types mean
// exitFailure.
type exitError struct {
	code int
	err  error
}

// Error returns the message, which may be empty (see silentFailure).
func (e *exitError) Error() string { return e.err.Error() }

// Unwrap returns the underlying error.
func (e *exitError) Unwrap() error { return e.err }

// usageErrorf returns an error that exits with exitUsage.
func usageErrorf(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// silentFailure exits with exitFailure after the command has already said
// why.
var silentFailure = &exitError{code: exitFailure, err: errors.New("")}

// errHelp reports that -h was given and usage printed.
var errHelp = flag.ErrHelp

// run runs the command line args (without the program name) and returns
// the exit status.
func run(ctx context.Context, args []string, std stdio) int {
	if len(args) == 0 {
		usage(std.err)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		usage(std.out)
		return exitOK
	}
	for _, c := range commands {
		if c.name != name {
			continue
		}
		err := c.run(ctx, std, args[1:])
		var (
			ee *exitError
			ce *configError
		)
		switch {
		case err == nil:
			return exitOK
		case errors.Is(err, errHelp):
			return exitOK
		case errors.As(err, &ce):
			// Configuration errors name the field, not the command:
			// "pkjwt: config: clients[1].jwks_uri: ...".
			fmt.Fprintf(std.err, "pkjwt: %v\n", ce)
			return exitUsage
		case errors.As(err, &ee):
			if ee.err.Error() != "" {
				fmt.Fprintf(std.err, "pkjwt %s: %v\n", name, ee.err)
			}
			if ee.code == exitUsage && ee.err.Error() != "" {
				fmt.Fprintf(std.err, "Run '%s %s -h' for usage.\n", self(), name)
			}
			return ee.code
		default:
			fmt.Fprintf(std.err, "pkjwt %s: %v\n", name, err)
			return exitFailure
		}
	}
	fmt.Fprintf(std.err, "pkjwt: unknown command %q\n", name)
	usage(std.err)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintf(w, "pkjwt shows private_key_jwt client authentication (RFC 7523) at work.\n\nUsage:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "\tpkjwt %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun 'pkjwt COMMAND -h' for a command's flags. Exit status: 0 ok, 1 failure, 2 usage or configuration error.\n")
}

// newFlagSet returns a FlagSet for a subcommand whose usage prints
// synopsis, then description, then the flags.
func newFlagSet(std stdio, name, synopsis, description string) *flag.FlagSet {
	fs := flag.NewFlagSet("pkjwt "+name, flag.ContinueOnError)
	fs.SetOutput(std.err)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: pkjwt %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(description))
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintf(w, "\nFlags:\n")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args into fs and returns the positional arguments;
// flags may follow them ("verify TOKEN -issuer URL"), and "--" ends the
// flags. A parse error (already printed with the usage by the flag
// package) exits with exitUsage; -h returns errHelp.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, errHelp
			}
			return nil, &exitError{code: exitUsage, err: errors.New("")}
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return positional, nil
		}
		if len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

// parseOptions is parseFlags for a command that takes flags only: a
// positional argument is a usage error.
func parseOptions(fs *flag.FlagSet, args []string) error {
	rest, err := parseFlags(fs, args)
	if err == nil && len(rest) > 0 {
		err = usageErrorf("unexpected argument %q", rest[0])
	}
	return err
}

// isSet reports whether the flag name was given on the command line.
func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// self returns how the user invoked this program, for the instructions it
// prints: "go run ./cmd/pkjwt" under go run, otherwise "pkjwt" (or the path
// it was run by).
func self() string {
	exe := os.Args[0]
	if strings.Contains(exe, "go-build") {
		return "go run ./cmd/pkjwt"
	}
	if filepath.Base(exe) == exe {
		return exe
	}
	if _, err := os.Stat(exe); err == nil {
		return exe
	}
	return "pkjwt"
}
