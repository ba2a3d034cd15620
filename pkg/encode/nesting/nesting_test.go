package nesting

import "testing"

func TestJSONDepth(t *testing.T) {
	for in, want := range map[string]int{
		`1`: 0, `"[{"`: 0, `[]`: 1, `{"a":[1,{"b":"]]]"}]}`: 3, `[[],[[]]]`: 3, `{"a\"[":{}}`: 2, `"\\"`: 0, `["\\",[]]`: 2,
	} {
		if got := JSONDepth([]byte(in)); got != want {
			t.Errorf("JSONDepth(%s) = %d, want %d", in, got, want)
		}
	}
	deep := make([]byte, 0, 2*(Max+1))
	for i := 0; i <= Max; i++ {
		deep = append(deep, '[')
	}
	for i := 0; i <= Max; i++ {
		deep = append(deep, ']')
	}
	if CheckJSON(deep) == nil || CheckJSON(deep[1:len(deep)-1]) != nil {
		t.Fatalf("CheckJSON must refuse %d levels and accept %d", Max+1, Max)
	}
}
