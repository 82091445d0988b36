package sender

import (
	"io"
	"testing"

	"github.com/switchboard-dev/switchboard/runtime/contract"
)

// TestSenderTakesTheContractArgs: the arguments the manager writes into a sender
// Deployment (contract.SenderArgs) are the sender's subcommand and flags.
func TestSenderTakesTheContractArgs(t *testing.T) {
	args := contract.SenderArgs("acme", "sales-es")
	var f flags
	if err := f.parse(args[1:], io.Discard); args[0] != "sender" || err != nil {
		t.Fatalf("switchboard %v: %v", args, err)
	}
	if f.number != "acme/sales-es" || f.metricsAddr != ":8080" || f.healthAddr != ":8081" {
		t.Errorf("parsed %+v from %v", f, args)
	}
	var defaults flags
	_ = defaults.parse([]string{"--number=acme/sales-es"}, io.Discard)
	if defaults.metricsAddr != f.metricsAddr || defaults.healthAddr != f.healthAddr {
		t.Errorf("the sender's default addresses %s, %s are not the contract's ports", defaults.metricsAddr, defaults.healthAddr)
	}
}
