package tokenedge_test

import (
	"fmt"
	"net/url"

	"github.com/pkjwt/pkjwt/internal/tokenedge"
)

// Example applies the edge's rules to a token request whose URL query
// carries the client assertion.
func Example() {
	body := url.Values{"grant_type": {"client_credentials", "password"}}
	if e := tokenedge.CheckQuery("client_assertion=eyJ...", body); e != nil {
		fmt.Println(e.Code, e.Reason)
	}
	if name, ok := tokenedge.Repeated(body); ok {
		fmt.Println(name, "repeated:", tokenedge.RepeatedDescription)
	}
	// Output:
	// invalid_request query_parameter
	// grant_type repeated: a request parameter was sent more than once
}
