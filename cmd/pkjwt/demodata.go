package main

import _ "embed"

// demoClientID is the client of the built-in demo configuration.
const demoClientID = "demo-client"

// demoClientKeyPEM is the demo client's private key. It is public (it ships
// in the source and the binary): it authenticates only against the
// built-in demo configuration.
//
//go:embed demodata/demo-client-key.pem
var demoClientKeyPEM []byte

// demoConfigJSON is the configuration of serve without -config.
//
//go:embed demodata/serve.json
var demoConfigJSON []byte
