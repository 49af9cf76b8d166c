// Command pkjwt shows pkjwt at work and helps debug private_key_jwt client
// authentication (RFC 7523, OpenID Connect Core 1.0 §9).
//
// Usage:
//
//	pkjwt demo                    run a server, mint an assertion, get a token, replay it
//	pkjwt serve [-config FILE]    run the reference authorization server
//	pkjwt mint -key FILE -iss ID -aud ISSUER
//	                              print a signed client assertion
//	pkjwt verify -issuer URL -jwks URL|FILE ASSERTION|-
//	                              explain why an assertion is accepted or rejected
//	pkjwt keygen -type TYPE -out-private FILE [-out-jwks FILE|-]
//	                              generate a client key pair
//
// Each subcommand documents its flags with -h. The exit status is 0 on
// success, 1 on failure (such as a failed check) and 2 for a usage or
// configuration error.
//
// Numbers in flags and in serve's configuration file follow pkjwt's
// configuration rule (see package verify): an absent setting means the
// default, a number is taken literally (a leeway of 0 is none), and a
// negative number is an error.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr})
	stop()
	os.Exit(code)
}
