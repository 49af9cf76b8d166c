package servertest_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/pkjwt/pkjwt/internal/servertest"
)

func Example() {
	port, err := servertest.FreePort()
	if err != nil {
		fmt.Println(err)
		return
	}
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println("listening on a free loopback port:", port > 0)

	dir, err := os.MkdirTemp("", "servertest")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	logFile := filepath.Join(dir, "server.log")
	if err := os.WriteFile(logFile, []byte("ready for connections\n"), 0o600); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(servertest.ReadLog(logFile))
	fmt.Println(servertest.ReadLog(filepath.Join(dir, "missing.log"))[:8])
	// Output:
	// listening on a free loopback port: true
	// ready for connections
	// (no log:
}
