package compat

import (
	"fmt"
	"sort"
	"strings"
	"testing"
)

// jsonDiffCase: original -> update, the differences expected (as
// "TYPE #/path", in any order) and whether the update can read what the
// original allowed. The situations are those Confluent's schema-registry
// JSON Schema diff tests cover; the schemas are written for deimos.
type jsonDiffCase struct {
	name     string
	orig     string
	upd      string
	changes  []string
	compatOK bool
}

const d2020 = `"$schema":"https://json-schema.org/draft/2020-12/schema",`

var jsonDiffCases = []jsonDiffCase{
	// annotations and whole schemas
	{"object to empty schema", `{"properties":{"a":{"type":"string"}}}`, `{}`, nil, true},
	{"empty to object schema", `{}`, `{"properties":{}}`, []string{"TYPE_CHANGED #/"}, false},
	{"id", `{"$id":"urn:a"}`, `{"$id":"urn:b"}`, []string{"ID_CHANGED #/"}, true},
	{"draft-04 id", `{"id":"urn:a"}`, `{"id":"urn:b"}`, []string{"ID_CHANGED #/"}, true},
	{"title", `{"title":"Order"}`, `{"title":"Purchase"}`, []string{"TITLE_CHANGED #/"}, true},
	{"description", `{"description":"x"}`, `{"description":"y"}`, []string{"DESCRIPTION_CHANGED #/"}, true},
	{"default", `{"type":"integer","default":1}`, `{"type":"integer","default":2}`, []string{"DEFAULT_CHANGED #/"}, true},
	{"type changed", `{"type":"string"}`, `{"type":"boolean"}`, []string{"TYPE_CHANGED #/"}, false},
	{"false to anything", `false`, `{"type":"string"}`, nil, true},
	{"anything to false", `{"type":"string"}`, `false`, []string{"TYPE_CHANGED #/"}, false},
	{"true to empty", `true`, `{}`, nil, true},
	{"Kafka Connect bytes", `{"type":"string","connect.type":"bytes"}`, `{"type":"number","connect.type":"bytes"}`, nil, true},
	// strings
	{"minLength up", `{"type":"string","minLength":2}`, `{"type":"string","minLength":3}`, []string{"MIN_LENGTH_INCREASED #/minLength"}, false},
	{"minLength down", `{"type":"string","minLength":3}`, `{"type":"string","minLength":2}`, []string{"MIN_LENGTH_DECREASED #/minLength"}, true},
	{"minLength added", `{"type":"string"}`, `{"type":"string","minLength":1}`, []string{"MIN_LENGTH_ADDED #/minLength"}, false},
	{"maxLength up", `{"type":"string","maxLength":8}`, `{"type":"string","maxLength":9}`, []string{"MAX_LENGTH_INCREASED #/maxLength"}, true},
	{"maxLength down", `{"type":"string","maxLength":9}`, `{"type":"string","maxLength":8}`, []string{"MAX_LENGTH_DECREASED #/maxLength"}, false},
	{"maxLength removed", `{"type":"string","maxLength":9}`, `{"type":"string"}`, []string{"MAX_LENGTH_REMOVED #/maxLength"}, true},
	{"pattern removed", `{"type":"string","pattern":"^a"}`, `{"type":"string"}`, []string{"PATTERN_REMOVED #/pattern"}, true},
	{"pattern added", `{"type":"string"}`, `{"type":"string","pattern":"^a"}`, []string{"PATTERN_ADDED #/pattern"}, false},
	{"pattern changed", `{"type":"string","pattern":"^a"}`, `{"type":"string","pattern":"^b"}`, []string{"PATTERN_CHANGED #/pattern"}, false},
	{"pattern same", `{"type":"string","pattern":"^a"}`, `{"type":"string","pattern":"^a"}`, nil, true},
	// numbers
	{"maximum removed", `{"type":"number","maximum":5}`, `{"type":"number"}`, []string{"MAXIMUM_REMOVED #/maximum"}, true},
	{"maximum up", `{"type":"number","maximum":5}`, `{"type":"number","maximum":6}`, []string{"MAXIMUM_INCREASED #/maximum"}, true},
	{"maximum down", `{"type":"number","maximum":6}`, `{"type":"number","maximum":5}`, []string{"MAXIMUM_DECREASED #/maximum"}, false},
	{"minimum removed", `{"type":"number","minimum":5}`, `{"type":"number"}`, []string{"MINIMUM_REMOVED #/minimum"}, true},
	{"minimum up", `{"type":"number","minimum":5}`, `{"type":"number","minimum":6}`, []string{"MINIMUM_INCREASED #/minimum"}, false},
	{"minimum down", `{"type":"number","minimum":6}`, `{"type":"number","minimum":5}`, []string{"MINIMUM_DECREASED #/minimum"}, true},
	{"exclusiveMaximum down", `{"type":"number","exclusiveMaximum":6}`, `{"type":"number","exclusiveMaximum":5.5}`, []string{"EXCLUSIVE_MAXIMUM_DECREASED #/exclusiveMaximum"}, false},
	{"exclusiveMinimum down", `{"type":"number","exclusiveMinimum":6}`, `{"type":"number","exclusiveMinimum":5}`, []string{"EXCLUSIVE_MINIMUM_DECREASED #/exclusiveMinimum"}, true},
	{"multipleOf removed", `{"type":"number","multipleOf":6}`, `{"type":"number"}`, []string{"MULTIPLE_OF_REMOVED #/multipleOf"}, true},
	{"multipleOf divisor", `{"type":"number","multipleOf":6}`, `{"type":"number","multipleOf":3}`, []string{"MULTIPLE_OF_REDUCED #/multipleOf"}, true},
	{"multipleOf other", `{"type":"number","multipleOf":6}`, `{"type":"number","multipleOf":4}`, []string{"MULTIPLE_OF_CHANGED #/multipleOf"}, false},
	{"multipleOf fraction to multiple", `{"type":"number","multipleOf":0.25}`, `{"type":"number","multipleOf":5}`, []string{"MULTIPLE_OF_EXPANDED #/multipleOf"}, false},
	{"multipleOf same value", `{"type":"number","multipleOf":0.25}`, `{"type":"number","multipleOf":0.250}`, nil, true},
	{"number to integer", `{"type":"number"}`, `{"type":"integer"}`, []string{"TYPE_NARROWED #/"}, false},
	{"integer to number", `{"type":"integer"}`, `{"type":"number"}`, []string{"TYPE_EXTENDED #/"}, true},
	// not, enum, const
	{"not narrowed", `{"not":{"type":"number"}}`, `{"not":{"type":"integer"}}`, []string{"NOT_TYPE_NARROWED #/not"}, true},
	{"not extended", `{"not":{"type":"integer"}}`, `{"not":{"type":"number"}}`, []string{"NOT_TYPE_EXTENDED #/not"}, false},
	{"enum dropped beside type", `{"type":"string","enum":["a","b"]}`, `{"type":"string"}`, []string{"PRODUCT_TYPE_NARROWED #/"}, true},
	{"enum extended", `{"enum":["a"]}`, `{"enum":["a","b"]}`, []string{"ENUM_ARRAY_EXTENDED #/enum"}, true},
	{"enum narrowed", `{"enum":["a","b"]}`, `{"enum":["b"]}`, []string{"ENUM_ARRAY_NARROWED #/enum"}, false},
	{"enum in allOf changed", `{"allOf":[{"type":"string"},{"enum":["a"]}]}`, `{"allOf":[{"type":"string"},{"enum":["z"]}]}`, []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}, false},
	{"enum in allOf extended, reordered", `{"allOf":[{"type":"string"},{"enum":["a"]}]}`, `{"allOf":[{"enum":["a","z"]},{"type":"string"}]}`, []string{"ENUM_ARRAY_EXTENDED #/allOf/1/enum"}, true},
	{"const changed", `{"properties":{"k":{"const":1}}}`, `{"properties":{"k":{"const":2}}}`, []string{"ENUM_ARRAY_CHANGED #/properties/k/const"}, false},
	// combined
	{"type list extended", `{"type":["string"]}`, `{"type":["string","integer"]}`, []string{"SUM_TYPE_EXTENDED #/"}, true},
	{"type list narrowed", `{"type":["string","integer"]}`, `{"type":["integer"]}`, []string{"SUM_TYPE_NARROWED #/"}, false},
	{"oneOf member changed", `{"oneOf":[{"type":"boolean"}]}`, `{"oneOf":[{"type":"integer"}]}`, []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}, false},
	{"oneOf member added", `{"oneOf":[{"type":"boolean"}]}`, `{"oneOf":[{"type":"integer"},{"type":"boolean"}]}`, []string{"SUM_TYPE_EXTENDED #/"}, true},
	{"oneOf of objects changed", `{"oneOf":[{"properties":{"a":{"type":"string"}}}]}`, `{"oneOf":[{"properties":{"a":{"type":"boolean"}}}]}`, []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/"}, false},
	{"singleton oneOf to allOf", `{"oneOf":[{"type":"string"}]}`, `{"allOf":[{"type":"string"}]}`, []string{"COMBINED_TYPE_EXTENDED #/"}, true},
	{"oneOf pair to allOf", `{"oneOf":[{"type":"string"},{"type":"integer"}]}`, `{"allOf":[{"type":"string"}]}`, []string{"COMBINED_TYPE_CHANGED #/"}, false},
	{"allOf reordered", `{"properties":{"p":{"allOf":[{"enum":["x","y"]},{"type":"string"},{"maxLength":3}]}}}`, `{"properties":{"p":{"allOf":[{"maxLength":3},{"enum":["x","y"]},{"type":"string"}]}}}`, nil, true},
	{"allOf member changed type", `{"properties":{"p":{"allOf":[{"enum":["x","y"]},{"type":"string"},{"maxLength":3}]}}}`, `{"properties":{"p":{"allOf":[{"maxLength":3},{"enum":["x","y"]},{"type":"integer"}]}}}`, []string{"COMBINED_TYPE_SUBSCHEMAS_CHANGED #/properties/p"}, false},
	{"duplicates in original", `{"properties":{"p":{"allOf":[{"type":"string"},{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, nil, true},
	{"duplicates in update", `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"type":"string"},{"type":"string"}]}}}`, nil, true},
	{"oneOf grows with more types", `{"properties":{"p":{"oneOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"null"},{"type":"integer"},{"type":"string"}]}}}`, []string{"SUM_TYPE_EXTENDED #/properties/p"}, true},
	{"oneOf member relaxed", `{"properties":{"p":{"oneOf":[{"type":"string","maxLength":4}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"null"},{"title":"s","type":"string","maxLength":5}]}}}`,
		[]string{"SUM_TYPE_EXTENDED #/properties/p", "TITLE_CHANGED #/properties/p/oneOf/0", "MAX_LENGTH_INCREASED #/properties/p/oneOf/0/maxLength"}, true},
	{"oneOf shrinks", `{"properties":{"p":{"oneOf":[{"type":"null"},{"type":"string"}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"string"}]}}}`, []string{"SUM_TYPE_NARROWED #/properties/p"}, false},
	{"allOf loses a member", `{"properties":{"p":{"allOf":[{"enum":["x"]},{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, []string{"PRODUCT_TYPE_NARROWED #/properties/p"}, true},
	{"allOf gains a member", `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"enum":["x"]},{"type":"string"}]}}}`, []string{"PRODUCT_TYPE_EXTENDED #/properties/p"}, false},
	{"oneOf to anyOf", `{"properties":{"p":{"oneOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"anyOf":[{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p"}, true},
	{"oneOf to larger anyOf", `{"properties":{"p":{"oneOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p", "SUM_TYPE_EXTENDED #/properties/p"}, true},
	{"allOf to anyOf", `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"anyOf":[{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p"}, true},
	{"anyOf to larger oneOf", `{"properties":{"p":{"anyOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p", "SUM_TYPE_EXTENDED #/properties/p"}, true},
	{"anyOf pair to oneOf", `{"properties":{"p":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"string"}]}}}`, []string{"COMBINED_TYPE_CHANGED #/properties/p"}, false},
	{"allOf to larger oneOf", `{"properties":{"p":{"allOf":[{"type":"integer"}]}}}`, `{"properties":{"p":{"oneOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p", "SUM_TYPE_EXTENDED #/properties/p"}, true},
	{"anyOf to allOf", `{"properties":{"p":{"anyOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, []string{"COMBINED_TYPE_EXTENDED #/properties/p"}, true},
	{"anyOf to larger allOf", `{"properties":{"p":{"anyOf":[{"type":"string"}]}}}`, `{"properties":{"p":{"allOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"COMBINED_TYPE_CHANGED #/properties/p"}, false},
	{"plain to anyOf", `{"properties":{"p":{"type":"string"}}}`, `{"properties":{"p":{"anyOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"SUM_TYPE_EXTENDED #/properties/p"}, true},
	{"plain to singleton allOf", `{"properties":{"p":{"type":"string"}}}`, `{"properties":{"p":{"allOf":[{"type":"string"}]}}}`, nil, true},
	{"plain to larger allOf", `{"properties":{"p":{"type":"string"}}}`, `{"properties":{"p":{"allOf":[{"type":"integer"},{"type":"string"}]}}}`, []string{"TYPE_CHANGED #/properties/p"}, false},
	{"plain to oneOf", `{"type":"string"}`, `{"oneOf":[{"type":"integer"},{"type":"string"}]}`, []string{"SUM_TYPE_EXTENDED #/"}, true},
	{"null to optional oneOf", `{"type":"null"}`, `{"oneOf":[{"type":"integer"},{"type":"null"}]}`, []string{"SUM_TYPE_EXTENDED #/"}, true},
	{"constraint dropped into oneOf", `{"type":"string","maxLength":2}`, `{"oneOf":[{"type":"integer"},{"type":"string"}]}`, []string{"MAX_LENGTH_REMOVED #/maxLength", "SUM_TYPE_EXTENDED #/"}, true},
	// objects: open, closed and partially open content models
	{"property swapped in open model", `{"properties":{"a":{"type":"string"}}}`, `{"properties":{"b":{"type":"string"}}}`,
		[]string{"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b", "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/a"}, false},
	{"property type changed", `{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"integer"}}}`, []string{"TYPE_CHANGED #/properties/a"}, false},
	{"optional property added to closed model", `{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`,
		[]string{"OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, true},
	{"required property added to closed model", `{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"required":["b"],"additionalProperties":false}`,
		[]string{"REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, false},
	{"required property with default added to closed model", `{"properties":{"a":{"type":"string"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer","default":0}},"required":["b"],"additionalProperties":false}`,
		[]string{"REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, true},
	{"property added, covered by patternProperties", `{"properties":{"a":{"type":"string"}},"additionalProperties":false,"patternProperties":{"^n_":{"type":"integer"},"^s_":{"type":"string"}}}`,
		`{"properties":{"a":{"type":"string"},"n_1":{"type":"number"}},"additionalProperties":false,"patternProperties":{"^n_":{"type":"integer"},"^s_":{"type":"string"}}}`,
		[]string{"TYPE_EXTENDED #/properties/n_1", "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/n_1", "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/n_1"}, true},
	{"property added, covered by additionalProperties", `{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":{"type":"string"}}`,
		[]string{"PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b", "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, true},
	{"property added, not covered", `{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"boolean"}},"additionalProperties":{"type":"string"}}`,
		[]string{"TYPE_CHANGED #/properties/b", "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b", "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, false},
	{"required property added, covered", `{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"string"}},"required":["b"],"additionalProperties":{"type":"string"}}`,
		[]string{"PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b", "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, false},
	{"property removed, covered by patternProperties", `{"properties":{"a":{"type":"string"},"n_1":{"type":"integer"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"}},"additionalProperties":false,"patternProperties":{"^n_":{"type":"number"}}}`,
		[]string{"TYPE_EXTENDED #/properties/n_1", "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/n_1"}, true},
	{"property removed, covered by additionalProperties", `{"properties":{"a":{"type":"string"},"b":{"type":"string"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`,
		[]string{"PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b", "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties"}, true},
	{"property removed, not covered", `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"additionalProperties":false}`, `{"properties":{"a":{"type":"string"}},"additionalProperties":{"type":"string"}}`,
		[]string{"TYPE_CHANGED #/properties/b", "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/b", "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties"}, false},
	{"nullable property removed, covered by the same oneOf", `{"properties":{"a":{"oneOf":[{"type":"null"},{"type":"integer"}]}},"additionalProperties":false}`, `{"additionalProperties":{"oneOf":[{"type":"null"},{"type":"integer"}]}}`,
		[]string{"PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/a", "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties"}, true},
	{"property removed, covered by a wider oneOf", `{"properties":{"a":{"type":"integer"}},"additionalProperties":false}`, `{"additionalProperties":{"oneOf":[{"type":"null"},{"type":"integer"}]}}`,
		[]string{"SUM_TYPE_EXTENDED #/properties/a", "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/properties/a", "ADDITIONAL_PROPERTIES_ADDED #/additionalProperties"}, true},
	{"property added to open model", `{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"},"b":{"type":"integer"}}}`, []string{"PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL #/properties/b"}, false},
	{"property true added to open model", `{"additionalProperties":true}`, `{"additionalProperties":true,"properties":{"x":true}}`, []string{"PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/properties/x"}, true},
	{"property true removed from open model", `{"additionalProperties":true,"properties":{"x":true}}`, `{"additionalProperties":true}`, []string{"PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL #/properties/x"}, true},
	{"property false added to closed model", `{"additionalProperties":false}`, `{"additionalProperties":false,"properties":{"x":false}}`, []string{"OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/x"}, true},
	{"property false removed from closed model", `{"additionalProperties":false,"properties":{"x":false}}`, `{"additionalProperties":false}`, []string{"PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/x"}, true},
	{"property removed from closed model", `{"additionalProperties":false,"properties":{"x":{"type":"string"}}}`, `{"additionalProperties":false}`, []string{"PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL #/properties/x"}, false},
	{"required removed", `{"properties":{"a":{"type":"string"}},"required":["a"]}`, `{"properties":{"a":{"type":"string"}}}`, []string{"REQUIRED_ATTRIBUTE_REMOVED #/required/a"}, true},
	{"required added", `{"properties":{"a":{"type":"string"}}}`, `{"properties":{"a":{"type":"string"}},"required":["a"]}`, []string{"REQUIRED_ATTRIBUTE_ADDED #/required/a"}, false},
	{"required added with default", `{"properties":{"a":{"type":"string","default":""}}}`, `{"properties":{"a":{"type":"string","default":""}},"required":["a"]}`, []string{"REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED #/required/a"}, true},
	{"required moved to an unknown name", `{"properties":{"a":{"type":"string"}},"required":["a"]}`, `{"properties":{"a":{"type":"string"}},"required":["z"]}`, []string{"REQUIRED_ATTRIBUTE_REMOVED #/required/a"}, true},
	{"dependency arrays swapped", `{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"dependencies":{"a":["b"]}}`, `{"properties":{"a":{"type":"integer"},"b":{"type":"string"}},"dependencies":{"b":["a"]}}`,
		[]string{"DEPENDENCY_ARRAY_ADDED #/dependencies/b", "DEPENDENCY_ARRAY_REMOVED #/dependencies/a"}, false},
	{"dependency array narrowed", `{"dependencies":{"a":["b","c"]}}`, `{"dependencies":{"a":["b"]}}`, []string{"DEPENDENCY_ARRAY_NARROWED #/dependencies/a"}, true},
	{"dependency array extended", `{"dependencies":{"a":["b"]}}`, `{"dependencies":{"a":["b","c"]}}`, []string{"DEPENDENCY_ARRAY_EXTENDED #/dependencies/a"}, false},
	{"dependency schema dropped", `{"dependencies":{"a":{"type":"object"},"b":{"type":"object"}}}`, `{"dependencies":{"a":{"type":"object"}}}`, []string{"DEPENDENCY_SCHEMA_REMOVED #/dependencies/b"}, true},
	{"dependency schemas emptied", `{"dependencies":{"a":{"type":"object"}}}`, `{"dependencies":{}}`, []string{"DEPENDENCY_SCHEMA_REMOVED #/dependencies/a"}, true},
	{"dependency schema changed", `{"dependencies":{"a":{"type":"object"}}}`, `{"dependencies":{"a":{"type":"array"}}}`, []string{"TYPE_CHANGED #/dependencies/a"}, false},
	{"dependency schema swapped", `{"dependencies":{"a":{"type":"object"}}}`, `{"dependencies":{"b":{"type":"object"}}}`, []string{"DEPENDENCY_SCHEMA_ADDED #/dependencies/b", "DEPENDENCY_SCHEMA_REMOVED #/dependencies/a"}, false},
	{"maxProperties removed", `{"properties":{},"maxProperties":3}`, `{"properties":{}}`, []string{"MAX_PROPERTIES_REMOVED #/maxProperties"}, true},
	{"maxProperties up", `{"maxProperties":3}`, `{"maxProperties":4}`, []string{"MAX_PROPERTIES_INCREASED #/maxProperties"}, true},
	{"maxProperties down", `{"maxProperties":4}`, `{"maxProperties":3}`, []string{"MAX_PROPERTIES_DECREASED #/maxProperties"}, false},
	{"minProperties removed", `{"properties":{},"minProperties":3}`, `{"properties":{}}`, []string{"MIN_PROPERTIES_REMOVED #/minProperties"}, true},
	{"minProperties up", `{"minProperties":3}`, `{"minProperties":4}`, []string{"MIN_PROPERTIES_INCREASED #/minProperties"}, false},
	{"minProperties down", `{"minProperties":4}`, `{"minProperties":3}`, []string{"MIN_PROPERTIES_DECREASED #/minProperties"}, true},
	{"additionalProperties false dropped", `{"properties":{},"additionalProperties":false}`, `{"properties":{}}`, []string{"ADDITIONAL_PROPERTIES_ADDED #/additionalProperties"}, true},
	{"additionalProperties true to false", `{"additionalProperties":true}`, `{"additionalProperties":false}`, []string{"ADDITIONAL_PROPERTIES_REMOVED #/additionalProperties"}, false},
	{"additionalProperties true to a schema", `{"additionalProperties":true}`, `{"additionalProperties":{"type":"integer"}}`, []string{"ADDITIONAL_PROPERTIES_NARROWED #/additionalProperties"}, false},
	{"additionalProperties schema changed", `{"additionalProperties":{"type":"string"}}`, `{"additionalProperties":{"type":"integer"}}`, []string{"TYPE_CHANGED #/additionalProperties"}, false},
	// arrays
	{"items schema added", `{"type":"array"}`, `{"type":"array","items":{"type":"string"}}`, []string{"SCHEMA_ADDED #/items"}, false},
	{"items schema removed", `{"type":"array","items":{"type":"string"}}`, `{"type":"array"}`, []string{"SCHEMA_REMOVED #/items"}, true},
	{"tuple removed", `{"type":"array","items":[{"type":"string"},{"type":"integer"}]}`, `{"type":"array"}`,
		[]string{"ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/0", "ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"item added, covered", `{"type":"array","items":[{"type":"integer"}],"additionalItems":{"type":"string"}}`, `{"type":"array","items":[{"type":"integer"},{"type":"string"}],"additionalItems":{"type":"string"}}`,
		[]string{"ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"item added, not covered", `{"type":"array","items":[{"type":"integer"}],"additionalItems":{"type":"string"}}`, `{"type":"array","items":[{"type":"integer"},{"type":"boolean"}],"additionalItems":{"type":"string"}}`,
		[]string{"TYPE_CHANGED #/items/1", "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}, false},
	{"item removed, covered", `{"type":"array","items":[{"type":"integer"},{"type":"string"}],"additionalItems":{"type":"string"}}`, `{"type":"array","items":[{"type":"integer"}],"additionalItems":{"type":"string"}}`,
		[]string{"ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"nullable item removed, covered", `{"type":"array","items":[{"type":"integer"},{"oneOf":[{"type":"null"},{"type":"string"}]}],"additionalItems":{"oneOf":[{"type":"null"},{"type":"string"}]}}`,
		`{"type":"array","items":[{"type":"integer"}],"additionalItems":{"oneOf":[{"type":"null"},{"type":"string"}]}}`,
		[]string{"ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"item removed, not covered", `{"type":"array","items":[{"type":"integer"},{"type":"boolean"}],"additionalItems":{"type":"string"}}`, `{"type":"array","items":[{"type":"integer"}],"additionalItems":{"type":"string"}}`,
		[]string{"TYPE_CHANGED #/items/1", "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1"}, false},
	{"tuple item changed", `{"type":"array","items":[{"type":"string"}]}`, `{"type":"array","items":[{"type":"integer"}]}`, []string{"TYPE_CHANGED #/items/0"}, false},
	{"maxItems down", `{"type":"array","maxItems":4}`, `{"type":"array","maxItems":3}`, []string{"MAX_ITEMS_DECREASED #/maxItems"}, false},
	{"minItems removed", `{"type":"array","minItems":2}`, `{"type":"array"}`, []string{"MIN_ITEMS_REMOVED #/minItems"}, true},
	{"minItems up", `{"type":"array","minItems":2}`, `{"type":"array","minItems":3}`, []string{"MIN_ITEMS_INCREASED #/minItems"}, false},
	{"minItems down", `{"type":"array","minItems":3}`, `{"type":"array","minItems":2}`, []string{"MIN_ITEMS_DECREASED #/minItems"}, true},
	{"uniqueItems removed", `{"type":"array","uniqueItems":true}`, `{"type":"array"}`, []string{"UNIQUE_ITEMS_REMOVED #/uniqueItems"}, true},
	{"uniqueItems added", `{"type":"array"}`, `{"type":"array","uniqueItems":true}`, []string{"UNIQUE_ITEMS_ADDED #/uniqueItems"}, false},
	{"additionalItems true to false", `{"additionalItems":true}`, `{"additionalItems":false}`, []string{"ADDITIONAL_ITEMS_REMOVED #/additionalItems"}, false},
	{"additionalItems schema changed", `{"additionalItems":{"type":"string"}}`, `{"additionalItems":{"type":"integer"}}`, []string{"TYPE_CHANGED #/additionalItems"}, false},
	{"item true added to open tuple", `{"type":"array","additionalItems":true,"items":[{"type":"integer"}]}`, `{"type":"array","additionalItems":true,"items":[{"type":"integer"},true]}`,
		[]string{"ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"item added to open tuple", `{"type":"array","items":[{"type":"integer"}]}`, `{"type":"array","items":[{"type":"integer"},{"type":"string"}]}`,
		[]string{"ITEM_ADDED_TO_OPEN_CONTENT_MODEL #/items/1"}, false},
	{"item true removed from open tuple", `{"type":"array","additionalItems":true,"items":[{"type":"integer"},true]}`, `{"type":"array","additionalItems":true,"items":[{"type":"integer"}]}`,
		[]string{"ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"item false added to closed tuple", `{"type":"array","additionalItems":false,"items":[{"type":"integer"}]}`, `{"type":"array","additionalItems":false,"items":[{"type":"integer"},false]}`,
		[]string{"ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1"}, true},
	{"item false removed from closed tuple", `{"type":"array","additionalItems":false,"items":[{"type":"integer"},false]}`, `{"type":"array","additionalItems":false,"items":[{"type":"integer"}]}`,
		[]string{"ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL #/items/1"}, true},
	{"closed tuple grows and opens", `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"},{"type":"integer"},{"type":"boolean"}],"additionalItems":true}`,
		[]string{"ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/2", "ADDITIONAL_ITEMS_ADDED #/additionalItems"}, true},
	{"closed tuple shrinks and opens", `{"type":"array","items":[{"type":"string"},{"type":"integer"},{"type":"boolean"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":true}`,
		[]string{"ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/2", "ADDITIONAL_ITEMS_ADDED #/additionalItems"}, true},
	{"open tuple shrinks", `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":true}`, `{"type":"array","items":[{"type":"string"}],"additionalItems":true}`,
		[]string{"ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL #/items/1"}, true},
	{"closed tuple grows", `{"type":"array","items":[{"type":"string"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`,
		[]string{"ITEM_ADDED_TO_CLOSED_CONTENT_MODEL #/items/1"}, true},
	{"closed tuple item moves to additionalItems", `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":false}`, `{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}`,
		[]string{"ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1", "ADDITIONAL_ITEMS_ADDED #/additionalItems"}, true},
	{"additionalItems schema becomes an item", `{"type":"array","items":[{"type":"string"}],"additionalItems":{"type":"integer"}}`, `{"type":"array","items":[{"type":"string"},{"type":"integer"}],"additionalItems":true}`,
		[]string{"ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1", "ADDITIONAL_ITEMS_EXTENDED #/additionalItems"}, true},
	// $ref
	{"referred schema changed", `{"type":"array","items":{"$ref":"#/definitions/t"},"definitions":{"t":{"type":"string"}}}`, `{"type":"array","items":{"$ref":"#/definitions/t"},"definitions":{"t":{"type":"boolean"}}}`,
		[]string{"TYPE_CHANGED #/items"}, false},
	{"inline to $ref", `{"type":"string"}`, `{"$ref":"#/definitions/t","definitions":{"t":{"type":"string"}}}`, nil, true},
	{"$ref to inline", `{"$ref":"#/definitions/t","definitions":{"t":{"type":"string"}}}`, `{"type":"string"}`, nil, true},
	// 2020-12
	{"2020-12 $id is not compared", `{` + d2020 + `"$id":"urn:a"}`, `{` + d2020 + `"$id":"urn:b"}`, nil, true},
	{"2020-12 empty properties read as the empty schema", `{` + d2020 + `"properties":{},"maxProperties":2}`, `{` + d2020 + `"properties":{}}`, nil, true},
	{"2020-12 prefixItems item changed", `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"}]}`, `{` + d2020 + `"type":"array","prefixItems":[{"type":"integer"}]}`, []string{"TYPE_CHANGED #/items/0"}, false},
	{"2020-12 items after prefixItems covers a removed item", `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`, `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"}],"items":{"type":"integer"}}`,
		[]string{"ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL #/items/1", "ADDITIONAL_ITEMS_ADDED #/additionalItems"}, true},
	{"2020-12 boolean items", `{` + d2020 + `"items":true}`, `{` + d2020 + `"items":false}`, []string{"ADDITIONAL_ITEMS_REMOVED #/additionalItems"}, false},
	{"2020-12 items schema", `{` + d2020 + `"items":{"type":"string"}}`, `{` + d2020 + `"items":{"type":"integer"}}`, []string{"TYPE_CHANGED #/items"}, false},
	{"2020-12 dependentRequired", `{` + d2020 + `"dependentRequired":{"a":["b"]}}`, `{` + d2020 + `"dependentRequired":{"b":["a"]}}`, []string{"DEPENDENCY_ARRAY_ADDED #/dependencies/b", "DEPENDENCY_ARRAY_REMOVED #/dependencies/a"}, false},
	{"2020-12 dependentSchemas", `{` + d2020 + `"dependentSchemas":{"a":{"type":"object"},"b":{"type":"object"}}}`, `{` + d2020 + `"dependentSchemas":{"a":{"type":"object"}}}`, []string{"DEPENDENCY_SCHEMA_REMOVED #/dependencies/b"}, true},
	{"2020-12 $defs", `{` + d2020 + `"properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"integer"}}}`, `{` + d2020 + `"properties":{"a":{"$ref":"#/$defs/x"}},"$defs":{"x":{"type":"number"}}}`, []string{"TYPE_EXTENDED #/properties/a"}, true},
	{"2020-12 unevaluatedProperties false added", `{` + d2020 + `"properties":{"a":{"type":"string"}}}`, `{` + d2020 + `"properties":{"a":{"type":"string"}},"unevaluatedProperties":false}`, []string{"UNEVALUATED_PROPERTIES_REMOVED #/unevaluatedProperties"}, false},
	{"2020-12 unevaluatedProperties false dropped", `{` + d2020 + `"properties":{"a":{"type":"string"}},"unevaluatedProperties":false}`, `{` + d2020 + `"properties":{"a":{"type":"string"}}}`, []string{"UNEVALUATED_PROPERTIES_ADDED #/unevaluatedProperties"}, true},
	{"2020-12 optional property added beside unevaluatedProperties false", `{` + d2020 + `"properties":{"a":{"type":"string"}},"unevaluatedProperties":false}`, `{` + d2020 + `"properties":{"a":{"type":"string"},"b":{"type":"integer"}},"unevaluatedProperties":false}`,
		[]string{"OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL #/properties/b"}, true},
	{"2020-12 unevaluatedItems narrowed", `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"}]}`, `{` + d2020 + `"type":"array","prefixItems":[{"type":"string"}],"unevaluatedItems":{"type":"integer"}}`, []string{"UNEVALUATED_ITEMS_NARROWED #/unevaluatedItems"}, false},
	{"2020-12 maxContains down", `{` + d2020 + `"type":"array","contains":{"type":"integer"},"maxContains":3}`, `{` + d2020 + `"type":"array","contains":{"type":"integer"},"maxContains":2}`, []string{"MAX_CONTAINS_DECREASED #/maxContains"}, false},
}

func TestJSONSchemaDiffRules(t *testing.T) {
	for _, tt := range jsonDiffCases {
		t.Run(tt.name, func(t *testing.T) {
			o, err := ParseJSONSchema("original", []byte(tt.orig), nil)
			if err != nil {
				t.Fatal(err)
			}
			u, err := ParseJSONSchema("update", []byte(tt.upd), nil)
			if err != nil {
				t.Fatal(err)
			}
			diffs := diffJSONSchemas(o, u)
			var got []string
			ok := true
			for _, d := range diffs {
				got = append(got, d.Type+" "+d.Path)
				ok = ok && jsonCompatible[d.Type]
			}
			want := append([]string(nil), tt.changes...)
			sort.Strings(got)
			sort.Strings(want)
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("differences\n got: %q\nwant: %q", got, want)
			}
			if ok != tt.compatOK {
				t.Errorf("compatible = %v, want %v", ok, tt.compatOK)
			}
		})
	}
}

// A recursive schema compares with itself without looping, and a change deep
// inside it is still found.
func TestJSONSchemaDiffRecursive(t *testing.T) {
	tree := func(leaf string) string {
		return `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"root":{"$ref":"#/definitions/node"}},
"definitions":{"node":{"type":"object","properties":{"v":{"type":"` + leaf + `"},"kids":{"type":"array","items":{"oneOf":[{"$ref":"#/definitions/node"},{"$ref":"#/definitions/leaf"}]}}}},
"leaf":{"type":"object","properties":{"v":{"type":"` + leaf + `"},"up":{"oneOf":[{"$ref":"#/definitions/node"}]}}}}}`
	}
	a, err := ParseJSONSchema("a", []byte(tree("string")), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ParseJSONSchema("b", []byte(tree("string")), nil)
	if d := diffJSONSchemas(a, b); len(d) != 0 {
		t.Fatalf("same recursive schema differs: %+v", d)
	}
	c, _ := ParseJSONSchema("c", []byte(tree("boolean")), nil)
	incompatible := false
	for _, d := range diffJSONSchemas(a, c) {
		incompatible = incompatible || !jsonCompatible[d.Type]
	}
	if !incompatible {
		t.Fatal("a type change inside a recursive schema was not found")
	}
}

// Check runs the rules under Confluent's levels: BACKWARD diffs old against
// new, FORWARD new against old, FULL both, transitive levels every earlier
// version; problems name the rule and the line in the new file.
func TestJSONSchemaCheckModes(t *testing.T) {
	v1 := `{"type":"object","properties":{"id":{"type":"integer"}},"additionalProperties":false}`
	v2 := `{"type":"object","properties":{"id":{"type":"integer"},"note":{"type":"string"}},"additionalProperties":false}`
	v3 := "{\n  \"type\": \"object\",\n  \"properties\": {\n    \"id\": {\"type\": \"integer\"},\n    \"note\": {\"type\": \"string\"},\n    \"tag\": {\"type\": \"string\"}\n  },\n  \"required\": [\"tag\"],\n  \"additionalProperties\": false\n}"
	ver := func(label, data string) Version { return Version{Label: label, File: label, Data: []byte(data)} }
	for _, tt := range []struct {
		mode     Mode
		versions []Version
		ok       bool
		rules    []string
	}{
		// optional property added to a closed model: new reads old; old cannot read new
		{Backward, []Version{ver("v1.json", v1), ver("v2.json", v2)}, true, nil},
		{Forward, []Version{ver("v1.json", v1), ver("v2.json", v2)}, false, []string{"forward PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"}},
		{Full, []Version{ver("v1.json", v1), ver("v2.json", v2)}, false, []string{"forward PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"}},
		// a required property added: incompatible backward
		{Backward, []Version{ver("v2.json", v2), ver("v3.json", v3)}, false, []string{"backward REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"}},
		// transitive: v3 against v1 and v2
		{BackwardTransitive, []Version{ver("v1.json", v1), ver("v2.json", v2), ver("v3.json", v3)}, false,
			[]string{"backward REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL", "backward REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"}},
		{None, []Version{ver("v2.json", v2), ver("v3.json", v3)}, true, nil},
	} {
		res, err := Check(tt.mode, "", tt.versions)
		if err != nil {
			t.Fatal(err)
		}
		var rules []string
		for _, p := range res.Problems {
			rules = append(rules, p.Check+" "+p.Rule)
		}
		if res.Compatible != tt.ok || fmt.Sprint(rules) != fmt.Sprint(tt.rules) || res.Type != JSONSchema {
			t.Errorf("%s %s: compatible=%v rules=%v type=%s", tt.mode, tt.versions[len(tt.versions)-1].Label, res.Compatible, rules, res.Type)
		}
		for _, p := range res.Problems {
			if p.Rule == "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL" && (p.Line != 6 || p.File != "v3.json" || p.Path != "#/properties/tag") {
				t.Errorf("problem location %+v, want v3.json line 6 #/properties/tag", p)
			}
		}
	}
	// an unreadable schema is a usage error naming the file
	if _, err := Check(Backward, JSONSchema, []Version{ver("a.json", v1), ver("b.json", `{"type":"object","properties":{"a":{"type":"strng"}}}`)}); err == nil || !strings.Contains(err.Error(), "b.json") || !strings.Contains(err.Error(), "strng") {
		t.Fatalf("bad schema: %v", err)
	}
}

func TestDetectJSONSchema(t *testing.T) {
	for _, tt := range []struct {
		name, data string
		want       Type
	}{
		{"w.json", `{"type":"object","properties":{}}`, JSONSchema},
		{"w.json", `{"type":"record","name":"W","fields":[]}`, Avro},
		{"w.json", `["null","string"]`, Avro},
		{"w", `{"$schema":"http://json-schema.org/draft-07/schema#"}`, JSONSchema},
		{"w", `{"type":"record","name":"W","fields":[]}`, Avro},
		{"w.avsc", `{"properties":{}}`, Avro},
	} {
		if got := DetectType(tt.name, []byte(tt.data)); got != tt.want {
			t.Errorf("DetectType(%s, %s) = %s, want %s", tt.name, tt.data, got, tt.want)
		}
	}
}
