package compat

// The Confluent Schema Registry's JSON Schema compatibility rules: a diff
// of an original schema and an update lists Differences (a type such as
// PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL and a JSON path); the update can read
// what the original allowed when every difference is of a compatible type.
// BACKWARD diffs the previous version (original) against the new one
// (update), FORWARD the other way round. docs/schema-compat.md lists the
// types and where deimos departs from the registry.

import (
	"fmt"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/deimos-cli/deimos/internal/jsonnode"
)

// jsonCompatible are the difference types that keep the update able to read
// what the original allowed (the registry's strict set; deimos adds the
// unevaluated* counterparts of the additional* types it already allows).
var jsonCompatible = setOf(
	"ID_CHANGED", "DESCRIPTION_CHANGED", "TITLE_CHANGED", "DEFAULT_CHANGED", "SCHEMA_REMOVED", "TYPE_EXTENDED",
	"MAX_LENGTH_INCREASED", "MAX_LENGTH_REMOVED", "MIN_LENGTH_DECREASED", "MIN_LENGTH_REMOVED", "PATTERN_REMOVED",
	"MAXIMUM_INCREASED", "MAXIMUM_REMOVED", "MINIMUM_DECREASED", "MINIMUM_REMOVED",
	"EXCLUSIVE_MAXIMUM_INCREASED", "EXCLUSIVE_MAXIMUM_REMOVED", "EXCLUSIVE_MINIMUM_DECREASED", "EXCLUSIVE_MINIMUM_REMOVED",
	"MULTIPLE_OF_REDUCED", "MULTIPLE_OF_REMOVED",
	"REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED", "REQUIRED_ATTRIBUTE_REMOVED",
	"DEPENDENCY_ARRAY_NARROWED", "DEPENDENCY_ARRAY_REMOVED", "DEPENDENCY_SCHEMA_REMOVED",
	"MAX_PROPERTIES_INCREASED", "MAX_PROPERTIES_REMOVED", "MIN_PROPERTIES_DECREASED", "MIN_PROPERTIES_REMOVED",
	"ADDITIONAL_PROPERTIES_ADDED", "ADDITIONAL_PROPERTIES_EXTENDED",
	"PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL", "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL",
	"OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL",
	"PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL", "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
	"PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
	"MAX_ITEMS_INCREASED", "MAX_ITEMS_REMOVED", "MIN_ITEMS_DECREASED", "MIN_ITEMS_REMOVED", "UNIQUE_ITEMS_REMOVED",
	"ADDITIONAL_ITEMS_ADDED", "ADDITIONAL_ITEMS_EXTENDED", "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL",
	"ITEM_ADDED_TO_CLOSED_CONTENT_MODEL", "ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL", "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL",
	"ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL", "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
	"MAX_CONTAINS_INCREASED", "MAX_CONTAINS_REMOVED", "MIN_CONTAINS_DECREASED", "MIN_CONTAINS_REMOVED",
	"UNEVALUATED_PROPERTIES_ADDED", "UNEVALUATED_PROPERTIES_EXTENDED", "UNEVALUATED_ITEMS_ADDED", "UNEVALUATED_ITEMS_EXTENDED",
	"ENUM_ARRAY_EXTENDED", "COMBINED_TYPE_EXTENDED", "PRODUCT_TYPE_NARROWED", "SUM_TYPE_EXTENDED", "NOT_TYPE_NARROWED",
)

func setOf(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// jsonDiff is one difference between two schemas.
type jsonDiff struct {
	Type string
	Path string   // "#/properties/foo"
	at   []string // path segments (for line numbers)
}

// jctx collects differences under a JSON path.
type jctx struct {
	path  []string
	diffs []jsonDiff
	busy  map[[2]*jsSchema]bool // pairs being compared up the stack (recursive schemas)
}

func (c *jctx) sub() *jctx {
	return &jctx{path: append([]string(nil), c.path...), busy: c.busy}
}

func (c *jctx) add(typ string) {
	c.diffs = append(c.diffs, jsonDiff{Type: typ, Path: "#/" + strings.Join(c.path, "/"), at: append([]string(nil), c.path...)})
}

func (c *jctx) addAt(attr, typ string) {
	c.enter(attr)
	c.add(typ)
	c.leave()
}

func (c *jctx) enter(p string) { c.path = append(c.path, p) }
func (c *jctx) leave()         { c.path = c.path[:len(c.path)-1] }

func (c *jctx) compatible() bool {
	for _, d := range c.diffs {
		if !jsonCompatible[d.Type] {
			return false
		}
	}
	return true
}

// diffJSONSchemas lists the differences from original to update.
func diffJSONSchemas(original, update *jsSchema) []jsonDiff {
	c := &jctx{busy: map[[2]*jsSchema]bool{}}
	jsCompare(c, original, update)
	return c.diffs
}

// deref follows $refs to the referred schema.
func deref(s *jsSchema) *jsSchema {
	for i := 0; s != nil && s.kind == jsRef && i < 64; i++ {
		t, err := s.target()
		if err != nil {
			return s
		}
		s = t
	}
	return s
}

// sameKind is "the same schema class" of the registry's model: true is a
// kind of empty schema there, and every number schema is one class.
func sameKind(a, b *jsSchema) bool {
	return a.kind == b.kind
}

func isEmptyLike(s *jsSchema) bool { return s.kind == jsEmpty || s.kind == jsTrue }

func jsCompare(c *jctx, o, u *jsSchema) {
	switch {
	case o == nil && u == nil:
		return
	case o == nil:
		c.add("SCHEMA_ADDED")
		return
	case u == nil:
		c.add("SCHEMA_REMOVED")
		return
	}
	o, u = deref(o), deref(u)
	if o.kind != jsCombined && u.kind == jsCombined {
		if len(u.subs) == 1 {
			sc := c.sub()
			jsCompare(sc, o, u.subs[0])
			if sc.compatible() {
				c.diffs = append(c.diffs, sc.diffs...)
				return
			}
		} else if u.criterion == "anyOf" || u.criterion == "oneOf" {
			for _, s := range u.subs {
				sc := c.sub()
				jsCompare(sc, o, s)
				if sc.compatible() {
					c.diffs = append(c.diffs, sc.diffs...)
					c.add("SUM_TYPE_EXTENDED")
					return
				}
			}
		}
	} else if o.kind == jsCombined && u.kind != jsCombined {
		if len(o.subs) == 1 {
			sc := c.sub()
			jsCompare(sc, o.subs[0], u)
			if sc.compatible() {
				c.diffs = append(c.diffs, sc.diffs...)
				return
			}
		}
		if o.criterion == "allOf" {
			for _, s := range o.subs {
				sc := c.sub()
				jsCompare(sc, s, u)
				if sc.compatible() {
					c.diffs = append(c.diffs, sc.diffs...)
					c.add("PRODUCT_TYPE_NARROWED")
					return
				}
			}
		}
	}
	if !sameKind(o, u) {
		if o.kind == jsFalse || isEmptyLike(u) {
			return // nothing was allowed, or anything is
		}
		if o.connectType == "bytes" && u.connectType == "bytes" {
			return // Kafka Connect decimals: a string and a number are the same bytes
		}
		c.add("TYPE_CHANGED")
		return
	}
	pair := [2]*jsSchema{o, u}
	if c.busy[pair] {
		return // a recursive schema: this pair is compared further up
	}
	c.busy[pair] = true
	defer delete(c.busy, pair)
	if !eqStr(o.id, u.id) {
		c.add("ID_CHANGED")
	}
	if !eqStr(o.title, u.title) {
		c.add("TITLE_CHANGED")
	}
	if !eqStr(o.description, u.description) {
		c.add("DESCRIPTION_CHANGED")
	}
	if !eqStr(o.def, u.def) {
		c.add("DEFAULT_CHANGED")
	}
	switch o.kind {
	case jsString:
		diffString(c, o, u)
	case jsNumber:
		diffNumber(c, o, u)
	case jsConst:
		if !eqStr(o.konst, u.konst) {
			c.addAt("const", "ENUM_ARRAY_CHANGED")
		}
	case jsEnum:
		diffEnum(c, o, u)
	case jsCombined:
		diffCombined(c, o, u)
	case jsNot:
		c.enter("not")
		sc := c.sub()
		jsCompare(sc, u.not, o.not) // reversed: a narrower "not" allows more
		if sc.compatible() {
			c.add("NOT_TYPE_NARROWED")
		} else {
			c.add("NOT_TYPE_EXTENDED")
		}
		c.leave()
	case jsObject:
		diffObject(c, o, u)
	case jsArray:
		diffArray(c, o, u)
	}
}

func eqStr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// diffBound compares an optional limit: added, removed, increased, decreased.
func diffInt(c *jctx, attr string, o, u *int64, prefix string) {
	switch {
	case o == nil && u == nil:
	case o == nil:
		c.addAt(attr, prefix+"_ADDED")
	case u == nil:
		c.addAt(attr, prefix+"_REMOVED")
	case *o < *u:
		c.addAt(attr, prefix+"_INCREASED")
	case *o > *u:
		c.addAt(attr, prefix+"_DECREASED")
	}
}

func diffRat(c *jctx, attr string, o, u *big.Rat, prefix string) {
	switch {
	case o == nil && u == nil:
	case o == nil:
		c.addAt(attr, prefix+"_ADDED")
	case u == nil:
		c.addAt(attr, prefix+"_REMOVED")
	case o.Cmp(u) < 0:
		c.addAt(attr, prefix+"_INCREASED")
	case o.Cmp(u) > 0:
		c.addAt(attr, prefix+"_DECREASED")
	}
}

func diffString(c *jctx, o, u *jsSchema) {
	diffInt(c, "maxLength", o.maxLength, u.maxLength, "MAX_LENGTH")
	diffInt(c, "minLength", o.minLength, u.minLength, "MIN_LENGTH")
	switch {
	case o.pattern == nil && u.pattern != nil:
		c.addAt("pattern", "PATTERN_ADDED")
	case o.pattern != nil && u.pattern == nil:
		c.addAt("pattern", "PATTERN_REMOVED")
	case o.pattern != nil && *o.pattern != *u.pattern:
		c.addAt("pattern", "PATTERN_CHANGED")
	}
}

func diffNumber(c *jctx, o, u *jsSchema) {
	diffRat(c, "maximum", o.maximum, u.maximum, "MAXIMUM")
	diffRat(c, "minimum", o.minimum, u.minimum, "MINIMUM")
	diffRat(c, "exclusiveMaximum", o.exclMax, u.exclMax, "EXCLUSIVE_MAXIMUM")
	diffRat(c, "exclusiveMinimum", o.exclMin, u.exclMin, "EXCLUSIVE_MINIMUM")
	switch om, um := o.multipleOf, u.multipleOf; {
	case om == nil && um == nil:
	case om == nil:
		c.addAt("multipleOf", "MULTIPLE_OF_ADDED")
	case um == nil:
		c.addAt("multipleOf", "MULTIPLE_OF_REMOVED")
	case om.Cmp(um) == 0:
	case om.Sign() != 0 && new(big.Rat).Quo(um, om).IsInt():
		c.addAt("multipleOf", "MULTIPLE_OF_EXPANDED")
	case um.Sign() != 0 && new(big.Rat).Quo(om, um).IsInt():
		c.addAt("multipleOf", "MULTIPLE_OF_REDUCED")
	default:
		c.addAt("multipleOf", "MULTIPLE_OF_CHANGED")
	}
	if o.integer != u.integer {
		if o.integer {
			c.add("TYPE_EXTENDED")
		} else {
			c.add("TYPE_NARROWED")
		}
	}
}

func diffEnum(c *jctx, o, u *jsSchema) {
	os, us := setOf(o.enum...), setOf(u.enum...)
	sub := func(a, b map[string]bool) bool {
		for k := range a {
			if !b[k] {
				return false
			}
		}
		return true
	}
	switch {
	case sub(os, us) && sub(us, os):
	case sub(os, us):
		c.addAt("enum", "ENUM_ARRAY_EXTENDED")
	case sub(us, os):
		c.addAt("enum", "ENUM_ARRAY_NARROWED")
	default:
		c.addAt("enum", "ENUM_ARRAY_CHANGED")
	}
}

func dedupe(ss []*jsSchema) []*jsSchema {
	seen := map[string]bool{}
	var out []*jsSchema
	for _, s := range ss {
		if seen[s.key] {
			continue
		}
		seen[s.key] = true
		out = append(out, s)
	}
	return out
}

func diffCombined(c *jctx, o, u *jsSchema) {
	switch {
	case o.criterion == u.criterion:
	case u.criterion == "anyOf":
		c.add("COMBINED_TYPE_EXTENDED") // allOf or oneOf to anyOf
	case u.criterion == "oneOf" && len(o.subs) == 1:
		c.add("COMBINED_TYPE_EXTENDED")
	case u.criterion == "allOf" && len(o.subs) == 1 && len(u.subs) == 1:
		c.add("COMBINED_TYPE_EXTENDED")
	default:
		c.add("COMBINED_TYPE_CHANGED")
		return
	}
	os, us := dedupe(o.subs), dedupe(u.subs)
	switch {
	case len(os) < len(us) && u.criterion == "allOf":
		c.add("PRODUCT_TYPE_EXTENDED")
	case len(os) < len(us):
		c.add("SUM_TYPE_EXTENDED")
	case len(os) > len(us) && u.criterion == "allOf":
		c.add("PRODUCT_TYPE_NARROWED")
	case len(os) > len(us):
		c.add("SUM_TYPE_NARROWED")
	}
	// every compatible (original, update) pair is an edge; the largest
	// matching (fewest differences among the largest) pairs them up
	edges := make([][]*[]jsonDiff, len(os))
	for i, a := range os {
		edges[i] = make([]*[]jsonDiff, len(us))
		c.enter(fmt.Sprintf("%s/%d", o.criterion, i))
		for j, b := range us {
			sc := c.sub()
			jsCompare(sc, a, b)
			if sc.compatible() {
				d := sc.diffs
				edges[i][j] = &d
			}
		}
		c.leave()
	}
	match := maxMatching(edges, len(us))
	n := 0
	for i, j := range match {
		if j >= 0 {
			n++
			c.diffs = append(c.diffs, (*edges[i][j])...)
		}
	}
	if n < min(len(os), len(us)) {
		c.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED")
	}
}

// maxMatching pairs rows with columns along edges: the most pairs, and among
// those the fewest differences (so identical subschemas pair with each other).
// Subschema lists are short; an exhaustive search with pruning is enough.
func maxMatching(edges [][]*[]jsonDiff, cols int) []int {
	rows := len(edges)
	best := make([]int, rows)
	for i := range best {
		best[i] = -1
	}
	bestN, bestCost := -1, 0
	cur := make([]int, rows)
	used := make([]bool, cols)
	steps := 0
	var rec func(i, n, cost int)
	rec = func(i, n, cost int) {
		steps++
		if steps > 200000 {
			return
		}
		if n+(rows-i) < bestN || (n+(rows-i) == bestN && cost >= bestCost) {
			return
		}
		if i == rows {
			if n > bestN || (n == bestN && cost < bestCost) {
				bestN, bestCost = n, cost
				copy(best, cur)
			}
			return
		}
		for j := 0; j < cols; j++ {
			if !used[j] && edges[i][j] != nil {
				used[j] = true
				cur[i] = j
				rec(i+1, n+1, cost+len(*edges[i][j]))
				used[j] = false
			}
		}
		cur[i] = -1
		rec(i+1, n, cost)
	}
	rec(0, 0, 0)
	if bestN < 0 {
		for i := range best {
			best[i] = -1
		}
	}
	return best
}

// content models: open (anything else allowed), closed (nothing else),
// partially open (other properties must match a schema).
func objectOpen(s *jsSchema) bool {
	if len(s.patternProps) > 0 || s.addl != nil || !s.addlAllowed {
		return false
	}
	return s.unevalProps == nil || isEmptyLike(s.unevalProps)
}

func objectPartial(s *jsSchema, prop string) *jsSchema {
	for _, p := range s.patternProps {
		if p.re.MatchString(prop) {
			return p.schema
		}
	}
	if s.addl != nil {
		return s.addl
	}
	if s.addlAllowed && s.unevalProps != nil && s.unevalProps.kind != jsFalse && !isEmptyLike(s.unevalProps) {
		return s.unevalProps
	}
	return nil
}

func diffObject(c *jctx, o, u *jsSchema) {
	// required
	c.enter("required")
	for _, k := range sortedKeys(o.props) {
		if _, ok := u.props[k]; !ok {
			continue
		}
		or, ur := o.required[k], u.required[k]
		switch {
		case or && !ur:
			c.addAt(escPtr(k), "REQUIRED_ATTRIBUTE_REMOVED")
		case !or && ur && u.props[k].def != nil:
			c.addAt(escPtr(k), "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED")
		case !or && ur:
			c.addAt(escPtr(k), "REQUIRED_ATTRIBUTE_ADDED")
		}
	}
	c.leave()
	// properties
	c.enter("properties")
	keys := map[string]bool{}
	for k := range o.props {
		keys[k] = true
	}
	for k := range u.props {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		op, up := o.props[k], u.props[k]
		c.enter(escPtr(k))
		switch {
		case up == nil:
			// only the update's content model decides whether it may drop it
			if objectOpen(u) {
				c.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL")
			} else if ps := objectPartial(u, k); ps != nil {
				sc := c.sub()
				jsCompare(sc, op, ps)
				c.diffs = append(c.diffs, sc.diffs...)
				if sc.compatible() {
					c.add("PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
				} else {
					c.add("PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
				}
			} else if deref(op).kind == jsFalse {
				c.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
			} else {
				c.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")
			}
		case op == nil:
			// only the original's content model decides whether it may add it
			if objectOpen(o) {
				if isEmptyLike(deref(up)) {
					c.add("PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL")
				} else {
					c.add("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL")
				}
			} else {
				if ps := objectPartial(o, k); ps != nil {
					sc := c.sub()
					jsCompare(sc, ps, up)
					c.diffs = append(c.diffs, sc.diffs...)
					if sc.compatible() {
						c.add("PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
					} else {
						c.add("PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
					}
				}
				switch {
				case u.required[k] && up.def != nil:
					c.add("REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL")
				case u.required[k]:
					c.add("REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL")
				default:
					c.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL")
				}
			}
		default:
			jsCompare(c, op, up)
		}
		c.leave()
	}
	c.leave()
	// dependencies
	c.enter("dependencies")
	keys = map[string]bool{}
	for k := range o.depArrays {
		keys[k] = true
	}
	for k := range u.depArrays {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		od, oOK := o.depArrays[k]
		ud, uOK := u.depArrays[k]
		c.enter(escPtr(k))
		switch {
		case !uOK:
			c.add("DEPENDENCY_ARRAY_REMOVED")
		case !oOK:
			c.add("DEPENDENCY_ARRAY_ADDED")
		default:
			os, us := setOf(od...), setOf(ud...)
			subset := func(a, b map[string]bool) bool {
				for x := range a {
					if !b[x] {
						return false
					}
				}
				return true
			}
			switch {
			case subset(os, us) && subset(us, os):
			case subset(os, us):
				c.add("DEPENDENCY_ARRAY_EXTENDED")
			case subset(us, os):
				c.add("DEPENDENCY_ARRAY_NARROWED")
			default:
				c.add("DEPENDENCY_ARRAY_CHANGED")
			}
		}
		c.leave()
	}
	keys = map[string]bool{}
	for k := range o.depSchemas {
		keys[k] = true
	}
	for k := range u.depSchemas {
		keys[k] = true
	}
	for _, k := range sortedKeys(keys) {
		os, us := o.depSchemas[k], u.depSchemas[k]
		c.enter(escPtr(k))
		switch {
		case us == nil:
			c.add("DEPENDENCY_SCHEMA_REMOVED")
		case os == nil:
			c.add("DEPENDENCY_SCHEMA_ADDED")
		default:
			jsCompare(c, os, us)
		}
		c.leave()
	}
	c.leave()
	// additionalProperties
	c.enter("additionalProperties")
	switch {
	case o.addlAllowed != u.addlAllowed && u.addlAllowed:
		c.add("ADDITIONAL_PROPERTIES_ADDED")
	case o.addlAllowed != u.addlAllowed:
		c.add("ADDITIONAL_PROPERTIES_REMOVED")
	case o.addl == nil && u.addl != nil:
		c.add("ADDITIONAL_PROPERTIES_NARROWED")
	case o.addl != nil && u.addl == nil:
		c.add("ADDITIONAL_PROPERTIES_EXTENDED")
	default:
		jsCompare(c, o.addl, u.addl)
	}
	c.leave()
	diffUneval(c, "unevaluatedProperties", "UNEVALUATED_PROPERTIES", o.unevalProps, u.unevalProps)
	diffInt(c, "maxProperties", o.maxProps, u.maxProps, "MAX_PROPERTIES")
	diffInt(c, "minProperties", o.minProps, u.minProps, "MIN_PROPERTIES")
}

// diffUneval compares unevaluatedProperties / unevaluatedItems (2019-09 and
// later): absent or true allows anything, false nothing, a schema some.
func diffUneval(c *jctx, attr, prefix string, o, u *jsSchema) {
	if o == nil && u == nil {
		return
	}
	o, u = deref(o), deref(u)
	c.enter(attr)
	defer c.leave()
	switch {
	case o == nil && u.kind == jsFalse:
		c.add(prefix + "_REMOVED")
	case o == nil && isEmptyLike(u):
	case o == nil:
		c.add(prefix + "_NARROWED")
	case u == nil && o.kind == jsFalse:
		c.add(prefix + "_ADDED")
	case u == nil && isEmptyLike(o):
	case u == nil:
		c.add(prefix + "_EXTENDED")
	case o.kind == jsFalse && u.kind != jsFalse:
		c.add(prefix + "_ADDED")
	case o.kind != jsFalse && u.kind == jsFalse:
		c.add(prefix + "_REMOVED")
	case isEmptyLike(o) && !isEmptyLike(u):
		c.add(prefix + "_NARROWED")
	case !isEmptyLike(o) && isEmptyLike(u):
		c.add(prefix + "_EXTENDED")
	default:
		jsCompare(c, o, u)
	}
}

func arrayOpen(s *jsSchema) bool {
	if !s.addlItemsOK || s.addlItems != nil {
		return false
	}
	return s.unevalItems == nil || isEmptyLike(s.unevalItems)
}

func arrayPartial(s *jsSchema) *jsSchema {
	if s.addlItems != nil {
		return s.addlItems
	}
	if s.addlItemsOK && s.unevalItems != nil && s.unevalItems.kind != jsFalse && !isEmptyLike(s.unevalItems) {
		return s.unevalItems
	}
	return nil
}

func diffArray(c *jctx, o, u *jsSchema) {
	c.enter("items")
	jsCompare(c, o.allItems, u.allItems)
	c.leave()
	n := min(len(o.itemList), len(u.itemList))
	for i := 0; i < n; i++ {
		c.enter(fmt.Sprintf("items/%d", i))
		jsCompare(c, o.itemList[i], u.itemList[i])
		c.leave()
	}
	for i := n; i < len(o.itemList); i++ {
		c.enter(fmt.Sprintf("items/%d", i))
		switch ps := arrayPartial(u); {
		case arrayOpen(u):
			c.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL")
		case ps != nil:
			sc := c.sub()
			jsCompare(sc, o.itemList[i], ps)
			c.diffs = append(c.diffs, sc.diffs...)
			if sc.compatible() {
				c.add("ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
			} else {
				c.add("ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
			}
		case deref(o.itemList[i]).kind == jsFalse:
			c.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
		default:
			c.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL")
		}
		c.leave()
	}
	for i := n; i < len(u.itemList); i++ {
		c.enter(fmt.Sprintf("items/%d", i))
		switch ps := arrayPartial(o); {
		case arrayOpen(o):
			if isEmptyLike(deref(u.itemList[i])) {
				c.add("ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL")
			} else {
				c.add("ITEM_ADDED_TO_OPEN_CONTENT_MODEL")
			}
		case ps != nil:
			sc := c.sub()
			jsCompare(sc, ps, u.itemList[i])
			c.diffs = append(c.diffs, sc.diffs...)
			if sc.compatible() {
				c.add("ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
			} else {
				c.add("ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL")
			}
		default:
			c.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL")
		}
		c.leave()
	}
	c.enter("additionalItems")
	switch {
	case o.addlItemsOK != u.addlItemsOK && o.addlItemsOK:
		c.add("ADDITIONAL_ITEMS_REMOVED")
	case o.addlItemsOK != u.addlItemsOK:
		c.add("ADDITIONAL_ITEMS_ADDED")
	case o.addlItems == nil && u.addlItems != nil:
		c.add("ADDITIONAL_ITEMS_NARROWED")
	case o.addlItems != nil && u.addlItems == nil:
		c.add("ADDITIONAL_ITEMS_EXTENDED")
	default:
		jsCompare(c, o.addlItems, u.addlItems)
	}
	c.leave()
	diffUneval(c, "unevaluatedItems", "UNEVALUATED_ITEMS", o.unevalItems, u.unevalItems)
	diffInt(c, "maxItems", o.maxItems, u.maxItems, "MAX_ITEMS")
	diffInt(c, "minItems", o.minItems, u.minItems, "MIN_ITEMS")
	if o.unique != u.unique {
		if o.unique {
			c.addAt("uniqueItems", "UNIQUE_ITEMS_REMOVED")
		} else {
			c.addAt("uniqueItems", "UNIQUE_ITEMS_ADDED")
		}
	}
	diffInt(c, "maxContains", o.maxContains, u.maxContains, "MAX_CONTAINS")
	diffInt(c, "minContains", o.minContains, u.minContains, "MIN_CONTAINS")
}

// jsonDiffMessage says what a difference means, naming which version
// (updateLabel, origLabel: "new"/"old") has what.
func jsonDiffMessage(d jsonDiff, updateLabel, origLabel string) string {
	p := "'" + d.Path + "'"
	t := d.Type
	switch {
	case strings.HasSuffix(t, "_ADDED") && keywordType(t):
		return fmt.Sprintf("the keyword at %s in the %s schema is not in the %s schema", p, updateLabel, origLabel)
	case strings.HasSuffix(t, "_REMOVED") && (t == "ADDITIONAL_ITEMS_REMOVED" || t == "ADDITIONAL_PROPERTIES_REMOVED" || strings.HasPrefix(t, "UNEVALUATED_")):
		return fmt.Sprintf("the %s schema allows no more %s at %s, which the %s schema allowed", updateLabel, itemsOrProps(t), p, origLabel)
	case strings.HasSuffix(t, "_INCREASED") || t == "MULTIPLE_OF_EXPANDED":
		return fmt.Sprintf("the value at %s in the %s schema is more than in the %s schema", p, updateLabel, origLabel)
	case strings.HasSuffix(t, "_DECREASED"):
		return fmt.Sprintf("the value at %s in the %s schema is less than in the %s schema", p, updateLabel, origLabel)
	case strings.HasSuffix(t, "_CHANGED") && (t == "PATTERN_CHANGED" || t == "MULTIPLE_OF_CHANGED" || t == "DEPENDENCY_ARRAY_CHANGED"):
		return fmt.Sprintf("the value at %s differs between the %s and %s schema", p, updateLabel, origLabel)
	case strings.HasSuffix(t, "_NARROWED") && t != "TYPE_NARROWED":
		return fmt.Sprintf("an array or combined type at %s has fewer elements in the %s schema than in the %s schema", p, updateLabel, origLabel)
	case strings.HasSuffix(t, "_EXTENDED") && t != "TYPE_EXTENDED":
		return fmt.Sprintf("an array or combined type at %s has more elements in the %s schema than in the %s schema", p, updateLabel, origLabel)
	case t == "COMBINED_TYPE_SUBSCHEMAS_CHANGED":
		return fmt.Sprintf("the subschemas at %s in the %s schema (allOf/anyOf/oneOf, or type and enum side by side) do not all have a compatible match in the %s schema", p, origLabel, updateLabel)
	case t == "TYPE_CHANGED" || t == "TYPE_NARROWED" || t == "COMBINED_TYPE_CHANGED" || t == "ENUM_ARRAY_CHANGED":
		return fmt.Sprintf("the type at %s differs between the %s schema and the %s schema", p, updateLabel, origLabel)
	case t == "SCHEMA_ADDED":
		return fmt.Sprintf("the %s schema has a schema at %s where the %s schema allowed anything", updateLabel, p, origLabel)
	case strings.HasSuffix(t, "_ADDED_TO_OPEN_CONTENT_MODEL"):
		return fmt.Sprintf("the %s schema has an open content model and has a property or item at %s which is missing in the %s schema (data written with the %s schema may hold it with another type)", origLabel, p, origLabel, origLabel)
	case t == "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL":
		return fmt.Sprintf("the %s schema requires the property at %s, which is missing in the %s schema", updateLabel, p, origLabel)
	case t == "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL" || t == "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL":
		return fmt.Sprintf("the %s schema has a closed content model and is missing the property or item at %s of the %s schema", updateLabel, p, origLabel)
	case strings.HasSuffix(t, "_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL") && strings.Contains(t, "REMOVED"):
		return fmt.Sprintf("the property or item at %s of the %s schema is missing in the %s schema and not covered by its partially open content model", p, origLabel, updateLabel)
	case strings.HasSuffix(t, "_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"):
		return fmt.Sprintf("the %s schema has a property or item at %s which is missing in the %s schema and not covered by its partially open content model", updateLabel, p, origLabel)
	}
	return strings.ToLower(strings.ReplaceAll(t, "_", " ")) + " at " + p
}

func keywordType(t string) bool {
	switch t {
	case "MAXIMUM_ADDED", "MINIMUM_ADDED", "EXCLUSIVE_MAXIMUM_ADDED", "EXCLUSIVE_MINIMUM_ADDED", "MULTIPLE_OF_ADDED",
		"MAX_LENGTH_ADDED", "MIN_LENGTH_ADDED", "PATTERN_ADDED", "REQUIRED_ATTRIBUTE_ADDED", "MAX_PROPERTIES_ADDED",
		"MIN_PROPERTIES_ADDED", "DEPENDENCY_ARRAY_ADDED", "DEPENDENCY_SCHEMA_ADDED", "MAX_ITEMS_ADDED", "MIN_ITEMS_ADDED",
		"MAX_CONTAINS_ADDED", "MIN_CONTAINS_ADDED", "UNIQUE_ITEMS_ADDED":
		return true
	}
	return false
}

func itemsOrProps(t string) string {
	if strings.Contains(t, "ITEMS") {
		return "items"
	}
	return "properties"
}

// sortDiffs orders differences by path, then type (for stable output).
func sortDiffs(ds []jsonDiff) {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].Path != ds[j].Path {
			return ds[i].Path < ds[j].Path
		}
		return ds[i].Type < ds[j].Type
	})
}

// jsonVersion is a parsed JSON Schema version.
type jsonVersion struct {
	top  *jsSchema
	root *jsonnode.Node
}

func parseJSONVersion(name string, v Version) (*jsonVersion, error) {
	s, err := ParseJSONSchema(name, v.Data, v.Import)
	if err != nil {
		return nil, err
	}
	root, _ := jsonnode.Parse(v.Data)
	return &jsonVersion{top: s, root: root}, nil
}

// jsonLineOf is the line of the deepest node of path that the document has.
func jsonLineOf(root *jsonnode.Node, data []byte, at []string) int {
	n := root
	for _, seg := range at {
		for _, part := range strings.Split(seg, "/") {
			part = unescPtr(part)
			var next *jsonnode.Node
			switch n.Kind {
			case 'o':
				next = n.Obj[part]
			case 'a':
				if i, err := strconv.Atoi(part); err == nil && i >= 0 && i < len(n.Arr) {
					next = n.Arr[i]
				}
			}
			if next == nil {
				return jsonnode.Line(data, n.Off)
			}
			n = next
		}
	}
	return jsonnode.Line(data, n.Off)
}

// compareJSON lists the incompatibilities of a check as Problems.
func compareJSON(o, n *jsonVersion, backward bool, nv Version) []Problem {
	orig, upd, ol, ul := o.top, n.top, "old", "new"
	if !backward {
		orig, upd, ol, ul = n.top, o.top, "new", "old"
	}
	diffs := diffJSONSchemas(orig, upd)
	sortDiffs(diffs)
	var out []Problem
	for _, d := range diffs {
		if jsonCompatible[d.Type] {
			continue
		}
		out = append(out, Problem{Path: d.Path, Message: jsonDiffMessage(d, ul, ol), Rule: d.Type, Line: jsonLineOf(n.root, nv.Data, d.at)})
	}
	return out
}
