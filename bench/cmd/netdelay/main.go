// netdelay: a TCP proxy that adds a one-way delay to every byte both ways,
// for benchmarks over a simulated long round trip (see internal/netdelay).
//
//	netdelay -upstream 127.0.0.1:7070 -delay 25ms [-listen 127.0.0.1:0] [-window 6MiB]
//
// It prints the address it listens on, then serves until killed.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/airlift-io/airlift/internal/netdelay"
	"github.com/airlift-io/airlift/internal/units"
)

func main() {
	var o netdelay.Options
	var window string
	flag.StringVar(&o.Listen, "listen", "127.0.0.1:0", "address to listen on")
	flag.StringVar(&o.Upstream, "upstream", "", "host:port to forward to")
	flag.DurationVar(&o.Delay, "delay", 0, "one-way delay (a round trip costs twice this)")
	flag.StringVar(&window, "window", "6MiB", "bytes in flight per direction of a connection")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile to this file until stopped (SIGINT or SIGTERM)")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "netdelay: -cpuprofile: %v\n", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	w, err := units.ParseBytes(window)
	if err != nil {
		fmt.Fprintf(os.Stderr, "netdelay: -window: %v\n", err)
		os.Exit(2)
	}
	o.Window = int(w)
	p, err := netdelay.Start(o)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fmt.Println(p.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	p.Close()
}
