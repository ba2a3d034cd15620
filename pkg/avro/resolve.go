package avro

// Schema resolution (the Avro specification's rules for reading data
// written with one schema through another): the one place both the
// decoder's reader-schema path (pkg/encode) and the compatibility checker
// (pkg/compat) take them from.

// Promotes reports whether a reader of kind r reads a writer's value of a
// different kind w by promotion: int to long, float or double; long to
// float or double; float to double; string to bytes and bytes to string.
func Promotes(w, r Kind) bool {
	switch w {
	case Int:
		return r == Long || r == Float || r == Double
	case Long:
		return r == Float || r == Double
	case Float:
		return r == Double
	case String:
		return r == Bytes
	case Bytes:
		return r == String
	}
	return false
}

// Reads reports whether reader type r can read writer type w, unions
// aside (they resolve branch by branch, so Reads says yes to them): the
// same kind, named types with the same unqualified name (or a reader alias
// naming the writer), or a promotion.
func Reads(w, r *Schema) bool {
	if r.Kind == Union || w.Kind == Union {
		return true
	}
	if r.Kind == w.Kind {
		if w.Kind.Named() {
			return SameName(r, w)
		}
		return true
	}
	return Promotes(w.Kind, r.Kind)
}

// SameName is Avro Java's schemaNameEquals: the same unqualified name, or
// a reader alias equal to the writer's full name.
func SameName(r, w *Schema) bool {
	return r.ShortName() == w.ShortName() || containsString(r.Aliases, w.Name)
}

// ReaderBranch is the branch of reader union r that reads writer type w:
// the branch of the same type first, then the first one w promotes to
// (nil: none).
func ReaderBranch(r, w *Schema) *Schema {
	for _, br := range r.Branches {
		if BranchName(br) == BranchName(w) {
			return br
		}
	}
	for _, br := range r.Branches {
		if Reads(w, br) {
			return br
		}
	}
	return nil
}
