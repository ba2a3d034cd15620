// Package consume reads topics, decodes keys and values through the encode
// engine and hands records to an output or a sink.
package consume
