// Command airlift moves datasets from local disk to S3 and back, fast and
// verifiably. Each command is one file here that turns flags into an
// options struct, calls the library, and renders what comes back.
package main

import (
	"os"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}
