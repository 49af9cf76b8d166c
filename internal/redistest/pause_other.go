//go:build !unix

package redistest

// Pause skips the test: freezing a process needs SIGSTOP.
func (s *Server) Pause() { s.tb.Skip("redistest: Pause needs a Unix system") }

// Resume skips the test: see [Server.Pause].
func (s *Server) Resume() { s.tb.Skip("redistest: Resume needs a Unix system") }
