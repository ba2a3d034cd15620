package compat

import (
	"github.com/deimos-cli/deimos/pkg/avro"
)

// The Avro schema model and parser are pkg/avro's, shared with the encode
// engine; these are the names compat has always used for them.
type (
	// AvroSchema is a parsed Avro schema node.
	AvroSchema = avro.Schema
	// AvroField is one record field.
	AvroField = avro.Field
	// AvroParseError is a schema that cannot be used, with its place in the file.
	AvroParseError = avro.ParseError
)

// parseAvroDoc parses one Avro schema document. lib holds named types
// defined by other files that the document may reference; it is not
// modified. With lenientDefaults an invalid field default is a warning
// instead of an error.
func parseAvroDoc(file string, data []byte, lib map[string]*AvroSchema, lenientDefaults bool) (*AvroSchema, map[string]*AvroSchema, []*AvroParseError, error) {
	return parseAvroDocWith(&avro.Parser{LenientDefaults: lenientDefaults, Lookup: func(full string) *AvroSchema { return lib[full] }}, file, data)
}

// parseAvroDocWith is parseAvroDoc with the parser's settings given (its
// Lookup finds the names other files define).
func parseAvroDocWith(p *avro.Parser, file string, data []byte) (*AvroSchema, map[string]*AvroSchema, []*AvroParseError, error) {
	s, err := p.Parse(file, data)
	if err != nil {
		return nil, nil, nil, err
	}
	return s, p.Defined(), p.Warnings, nil
}

// parseAvroSet parses the first document, whose named-type references may
// be defined by the other documents (in any order). Other documents that do
// not parse are ignored unless the first one needs them. With
// lenientDefaults invalid field defaults
// (in the document or the references it uses) are returned as warnings.
// References are always read leniently so that, without lenientDefaults,
// one with an invalid default that the document uses is reported as such
// (not as an unknown type), and one it does not use is not reported.
func parseAvroSet(files []string, datas [][]byte, lenientDefaults bool) ([]*AvroSchema, []*AvroParseError, error) {
	var warnings []*AvroParseError
	lib := map[string]*AvroSchema{}
	done := make([]bool, len(files))
	for pass := 0; pass < len(files); pass++ {
		progress := false
		for i := 1; i < len(files); i++ {
			if done[i] {
				continue
			}
			_, names, warns, err := parseAvroDoc(files[i], datas[i], lib, true)
			if err != nil {
				continue
			}
			warnings = append(warnings, warns...)
			done[i], progress = true, true
			for k, v := range names {
				if _, ok := lib[k]; !ok {
					lib[k] = v
				}
			}
		}
		if !progress {
			break
		}
	}
	s, _, warns, err := parseAvroDoc(files[0], datas[0], lib, lenientDefaults)
	if err != nil {
		return nil, nil, err
	}
	used := map[string]bool{}
	usedFiles(s, map[*AvroSchema]bool{}, used)
	for _, w := range warnings {
		if !used[w.File] || w.File == files[0] {
			continue
		}
		if !lenientDefaults {
			return nil, nil, w
		}
		warns = append(warns, w)
	}
	return []*AvroSchema{s}, warns, nil
}

// usedFiles collects the files defining the named types s uses.
func usedFiles(s *AvroSchema, seen map[*AvroSchema]bool, out map[string]bool) {
	if s == nil || seen[s] {
		return
	}
	seen[s] = true
	if s.File != "" {
		out[s.File] = true
	}
	for _, f := range s.Fields {
		usedFiles(f.Type, seen, out)
	}
	for _, b := range s.Branches {
		usedFiles(b, seen, out)
	}
	usedFiles(s.Items, seen, out)
	usedFiles(s.Values, seen, out)
}
