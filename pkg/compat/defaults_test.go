package compat

import (
	"strings"
	"testing"
)

// Invalid field defaults: read leniently in every version (a warning, the
// verdict still made); an error in the newest one when it is being
// registered and, with StrictDefaults, everywhere. A referenced file counts
// when the version uses a type it defines.
func TestInvalidDefaults(t *testing.T) {
	bad := `{"type":"record","name":"W","fields":[
  {"name":"id","type":"long"},
  {"name":"n","type":["null","string"],"default":"null"}]}`
	good := `{"type":"record","name":"W","fields":[
  {"name":"id","type":"long"},
  {"name":"n","type":["null","string"],"default":null}]}`
	usesRef := `{"type":"record","name":"W","fields":[{"name":"id","type":"long"},{"name":"m","type":["null","Money"],"default":null}]}`
	badRef := NamedText{Name: "Money.avsc", Data: []byte(`{"type":"record","name":"Money","fields":[{"name":"units","type":"long","default":"zero"}]}`)}
	unusedBadRef := NamedText{Name: "Other.avsc", Data: []byte(`{"type":"record","name":"Other","fields":[{"name":"x","type":"int","default":1.5}]}`)}
	v := func(label, text string, refs ...NamedText) Version {
		return Version{Label: label, File: label, Data: []byte(text), AvroRefs: refs}
	}

	res, err := Check(Backward, Avro, []Version{v("v1.avsc", bad), v("v2.avsc", good)})
	if err != nil || !res.Compatible || len(res.Warnings) != 1 {
		t.Fatalf("lenient: %+v %v", res, err)
	}
	if w := res.Warnings[0]; w.Version != "v1.avsc" || w.Line != 3 || !strings.Contains(w.String(), `v1.avsc:3: field W.n: invalid default "null"`) {
		t.Fatalf("warning: %+v", w)
	}
	_, err = CheckWith(Options{StrictDefaults: true}, Backward, Avro, []Version{v("v1.avsc", bad), v("v2.avsc", good)})
	if err == nil || !strings.Contains(err.Error(), "v1.avsc:3") || !strings.Contains(err.Error(), "--strict-defaults") {
		t.Fatalf("strict: %v", err)
	}
	res, err = Check(Backward, Avro, []Version{v("v1.avsc", good), v("v2.avsc", bad)})
	if err != nil || !res.Compatible || len(res.Warnings) != 1 || !res.Warnings[0].Newest || res.Warnings[0].Version != "v2.avsc" {
		t.Fatalf("newest, lenient: %+v %v", res, err)
	}
	_, err = CheckWith(Options{NewestIsRegistration: true}, Backward, Avro, []Version{v("v1.avsc", good), v("v2.avsc", bad)})
	if err == nil || !strings.Contains(err.Error(), "refuses to register") {
		t.Fatalf("newest, registration: %v", err)
	}
	res, err = CheckWith(Options{NewestIsRegistration: true}, Backward, Avro, []Version{v("v1.avsc", bad), v("v2.avsc", good)})
	if err != nil || !res.Compatible || len(res.Warnings) != 1 || res.Warnings[0].Newest {
		t.Fatalf("registration, earlier version lenient: %+v %v", res, err)
	}
	// references: warned about (or refused) only when used
	res, err = Check(Forward, Avro, []Version{v("v1.avsc", usesRef, badRef, unusedBadRef), v("v2.avsc", good, unusedBadRef)})
	if err != nil || len(res.Warnings) != 1 || res.Warnings[0].File != "Money.avsc" {
		t.Fatalf("used reference: %+v %v", res, err)
	}
	_, err = CheckWith(Options{NewestIsRegistration: true}, Backward, Avro, []Version{v("v1.avsc", good), v("v2.avsc", usesRef, badRef)})
	if err == nil || !strings.Contains(err.Error(), "Money.avsc") || !strings.Contains(err.Error(), "invalid default") {
		t.Fatalf("newest uses a reference with an invalid default: %v", err)
	}
	// a single version: nothing to compare
	res, err = Check(FullTransitive, Avro, []Version{v("v1.avsc", good)})
	if err != nil || !res.Compatible || res.Name != "v1.avsc" || !strings.Contains(res.Note, "nothing to compare") || len(res.Checked) != 0 {
		t.Fatalf("single version: %+v %v", res, err)
	}
}
