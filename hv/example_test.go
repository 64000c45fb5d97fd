package hv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/pvsim/pvsim/guest"
	"github.com/pvsim/pvsim/hv"
	"github.com/pvsim/pvsim/trace"
)

// Example is a domain's whole life: an embedded guest kernel is built
// into a domain, run once to its shutdown, and its exit trace digested.
// It needs /dev/kvm, so it is compiled but not run.
func Example() {
	k, ok := guest.Lookup("hello")
	if !ok {
		log.Fatal("no kernel called hello")
	}
	d, err := hv.New(hv.Config{
		Name:    k.Name,
		Kernel:  k.ELF,
		VCPUs:   2,
		Console: os.Stdout,
		Timeout: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()

	res, err := d.Run(context.Background())
	var gerr *hv.GuestError
	switch {
	case errors.As(err, &gerr):
		// The guest was at fault: a triple fault, a bad hypercall, a
		// timeout, and so on.
		log.Fatalf("guest failed: %v", gerr)
	case err != nil:
		log.Fatalf("pvsim failed: %v", err)
	}
	fmt.Printf("shut down (%v) by vCPU %d after %v\n", res.Reason, res.VCPU, res.Elapsed)

	events := d.Trace()
	fmt.Printf("%d exits, trace digest %s\n", len(events), trace.Digest(events)[:16])
}
