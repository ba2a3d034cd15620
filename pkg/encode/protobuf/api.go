// Package protobuf is the Protobuf half of the encode engine: .proto files
// parsed at run time (jhump/protoreflect), messages by full name, JSON ↔
// binary, Confluent message indexes, registry references, and the key forms
// Deimos uses (sorted compact JSON, a JSON Schema, generated key .proto files).
package protobuf
