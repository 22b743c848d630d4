package harvester

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"

	"github.com/fhbft/fhbft/impl/certification"
	"github.com/fhbft/fhbft/impl/dag"
	pm "github.com/fhbft/fhbft/impl/pacemaker"
)

// commandMagic tags a pacemaker command that carries a convergence
// certificate, so that no other payload reads as one.
const commandMagic = "FHBFT/dag/cmd/v1"

// CommandError says why a command does not decode (CERT-19 style: never a
// panic, the field named).
type CommandError struct {
	Field  string
	Detail string
	Err    error
}

func (e *CommandError) Error() string {
	s := "harvester command: " + e.Field + ": " + e.Detail
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap exposes the certification or dag decoding error.
func (e *CommandError) Unwrap() error { return e.Err }

// CommandID is the ID the pacemaker dedupes on: the first eight bytes of
// SHA-256(payload), big-endian.
func CommandID(payload []byte) pm.CommandID {
	h := sha256.Sum256(payload)
	return pm.CommandID(binary.BigEndian.Uint64(h[:8]))
}

// EncodeCommand makes the pacemaker command that orders a convergence
// certificate (FIN-1):
//
//	payload = "FHBFT/dag/cmd/v1" ‖ len(cert) u32 ‖ cert ‖ block
//
// Both encodings are canonical; a block or certificate without an encoding
// (a programming error: this harvester formed or checked both) yields a
// command that DecodeCommand refuses.
func EncodeCommand(cert certification.Certificate, cb *dag.ConvergenceBlock) pm.Command {
	cb0, _ := cert.MarshalBinary()
	bb, _ := cb.MarshalBinary()
	p := make([]byte, 0, len(commandMagic)+4+len(cb0)+len(bb))
	p = append(p, commandMagic...)
	p = binary.BigEndian.AppendUint32(p, uint32(len(cb0)))
	p = append(p, cb0...)
	p = append(p, bb...)
	return pm.Command{ID: CommandID(p), Payload: p}
}

// DecodeCommand parses a command made by EncodeCommand. It checks the
// encoding and that the ID is the payload's, not the certificate's
// signature or whether it matches the block (the harvester does, FIN-1).
func DecodeCommand(c pm.Command) (certification.Certificate, dag.ConvergenceBlock, error) {
	fail := func(field string, err error, format string, args ...any) (certification.Certificate, dag.ConvergenceBlock, error) {
		return certification.Certificate{}, dag.ConvergenceBlock{}, &CommandError{Field: field, Detail: fmt.Sprintf(format, args...), Err: err}
	}
	p := c.Payload
	if len(p) < len(commandMagic)+4 || !bytes.Equal(p[:len(commandMagic)], []byte(commandMagic)) {
		return fail("magic", nil, "payload of %d bytes is not a convergence command", len(p))
	}
	if id := CommandID(p); id != c.ID {
		return fail("id", nil, "id %d, payload hashes to %d", c.ID, id)
	}
	p = p[len(commandMagic):]
	n := binary.BigEndian.Uint32(p)
	p = p[4:]
	if uint64(n) > uint64(len(p)) {
		return fail("cert length", nil, "%d bytes, %d left", n, len(p))
	}
	cert, err := certification.DecodeCertificate(p[:n])
	if err != nil {
		return fail("cert", err, "does not decode")
	}
	cb, err := dag.DecodeConvergenceBlock(p[n:])
	if err != nil {
		return fail("block", err, "does not decode")
	}
	return cert, cb, nil
}
