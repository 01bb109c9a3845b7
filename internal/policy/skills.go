package policy

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/personfleet/personfleet/internal/person"
)

// GitProfileKey is the free attribute the skill-recommendation policy reads.
const GitProfileKey = "git_profile"

// MaxRecommendedSkills bounds one recommendation (the aggregate accepts 1 to 20).
const MaxRecommendedSkills = 20

// maxLanguageLen bounds one language name, in characters.
const maxLanguageLen = 40

// recommendSkills recommends a programming-language skill, at beginner
// level, for every language of the person's git profile. The attribute
// value is one of
//
//   - a JSON object with "languages": a list of names
//     {"url":"https://github.com/ada","languages":["Go","Rust"]}, or a map
//     of name to amount of code as GitHub's languages API returns it
//     {"languages":{"Go":120000,"Rust":800}} (largest first);
//   - a JSON list of names ["Go","Rust"];
//   - a plain comma-separated list "go, rust".
//
// Names are matched case-insensitively against a table of well-known
// languages and given their canonical spelling (golang → Go, c++ → C++);
// unknown ones are title-cased. Entries that do not look like a language
// name (a URL, say) are skipped; duplicates are dropped; at most
// MaxRecommendedSkills are recommended. An empty or unparseable value
// recommends nothing.
func recommendSkills(e *person.Event) []Emit {
	p, ok := e.Payload.(*person.AttributeSet)
	if !ok || p.Key != GitProfileKey {
		return nil
	}
	skills := languageSkills(parseLanguages(p.Value))
	if len(skills) == 0 {
		return nil
	}
	return []Emit{{Command: &person.RecommendSkills{Skills: skills, Source: GitProfileKey}}}
}

// parseLanguages reads the language names of a git_profile value; nil when
// it holds none or cannot be read.
func parseLanguages(v string) []string {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil
	}
	switch v[0] {
	case '{':
		var profile struct {
			Languages json.RawMessage `json:"languages"`
		}
		if json.Unmarshal([]byte(v), &profile) != nil {
			return nil
		}
		return jsonLanguages(profile.Languages)
	case '[':
		return jsonLanguages(json.RawMessage(v))
	}
	return strings.Split(v, ",")
}

// jsonLanguages reads a list of names, or a map of name to size (largest
// first, then by name).
func jsonLanguages(raw json.RawMessage) []string {
	raw = json.RawMessage(strings.TrimSpace(string(raw)))
	if len(raw) == 0 {
		return nil
	}
	switch raw[0] {
	case '[':
		var names []string
		if json.Unmarshal(raw, &names) != nil {
			return nil
		}
		return names
	case '{':
		var sizes map[string]float64
		if json.Unmarshal(raw, &sizes) != nil {
			return nil
		}
		names := make([]string, 0, len(sizes))
		for n := range sizes {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			if c := cmp.Compare(sizes[b], sizes[a]); c != 0 {
				return c
			}
			return strings.Compare(a, b)
		})
		return names
	}
	return nil
}

// languageSkills maps names to skills: canonical names, no duplicates, at
// most MaxRecommendedSkills, invalid entries skipped.
func languageSkills(names []string) []person.Skill {
	var out []person.Skill
	for _, n := range names {
		name, ok := canonicalLanguage(n)
		if !ok {
			continue
		}
		key := person.SkillKey(name)
		if slices.ContainsFunc(out, func(s person.Skill) bool { return person.SkillKey(s.Name) == key }) {
			continue
		}
		out = append(out, person.Skill{Name: name, Category: "programming_language", Proficiency: person.Beginner})
		if len(out) == MaxRecommendedSkills {
			break
		}
	}
	return out
}

// canonicalLanguage returns the canonical spelling of a language name, or
// false when s does not look like one: 1 to maxLanguageLen characters of
// letters, digits, spaces and + # . - _ ', with at least one letter.
func canonicalLanguage(s string) (string, bool) {
	s = strings.Join(strings.Fields(s), " ")
	if s == "" || !utf8.ValidString(s) || utf8.RuneCountInString(s) > maxLanguageLen {
		return "", false
	}
	letter := false
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letter = true
		case unicode.IsDigit(r), r == ' ', strings.ContainsRune("+#.-_'", r):
		default:
			return "", false
		}
	}
	if !letter {
		return "", false
	}
	lower := strings.ToLower(s)
	if c, ok := knownLanguages[lower]; ok {
		return c, true
	}
	return titleCase(lower), true
}

// titleCase upper-cases the first letter of every space-separated word of
// a lowercase string.
func titleCase(s string) string {
	b := []byte(nil)
	up := true
	for _, r := range s {
		if up {
			r = unicode.ToTitle(r)
		}
		up = r == ' '
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// knownLanguages maps lowercase names and common aliases to canonical
// spellings (those of GitHub Linguist).
var knownLanguages = map[string]string{
	"go": "Go", "golang": "Go",
	"rust": "Rust", "rs": "Rust",
	"python": "Python", "py": "Python", "python3": "Python",
	"javascript": "JavaScript", "js": "JavaScript", "ecmascript": "JavaScript",
	"typescript": "TypeScript", "ts": "TypeScript",
	"java": "Java", "kotlin": "Kotlin", "scala": "Scala", "groovy": "Groovy", "clojure": "Clojure",
	"c": "C", "c++": "C++", "cpp": "C++", "cplusplus": "C++",
	"c#": "C#", "csharp": "C#", "f#": "F#", "fsharp": "F#",
	"objective-c": "Objective-C", "objc": "Objective-C", "swift": "Swift",
	"ruby": "Ruby", "php": "PHP", "perl": "Perl", "lua": "Lua", "r": "R", "julia": "Julia",
	"dart": "Dart", "elixir": "Elixir", "erlang": "Erlang", "gleam": "Gleam",
	"haskell": "Haskell", "ocaml": "OCaml", "elm": "Elm", "purescript": "PureScript",
	"lisp": "Lisp", "common lisp": "Common Lisp", "scheme": "Scheme", "racket": "Racket",
	"emacs lisp": "Emacs Lisp", "elisp": "Emacs Lisp", "prolog": "Prolog",
	"zig": "Zig", "nim": "Nim", "crystal": "Crystal", "d": "D", "v": "V",
	"shell": "Shell", "bash": "Shell", "sh": "Shell", "zsh": "Shell", "powershell": "PowerShell",
	"sql": "SQL", "plpgsql": "PLpgSQL", "html": "HTML", "css": "CSS", "scss": "SCSS",
	"matlab": "MATLAB", "fortran": "Fortran", "cobol": "COBOL", "assembly": "Assembly", "asm": "Assembly",
	"visual basic": "Visual Basic", "vb": "Visual Basic", "vb.net": "Visual Basic .NET", "visual basic .net": "Visual Basic .NET",
	"solidity": "Solidity", "webassembly": "WebAssembly", "wasm": "WebAssembly",
	"hcl": "HCL", "terraform": "HCL", "nix": "Nix", "vhdl": "VHDL", "verilog": "Verilog",
	"systemverilog": "SystemVerilog", "cuda": "Cuda", "jupyter notebook": "Jupyter Notebook",
	"vue": "Vue", "svelte": "Svelte", "dockerfile": "Dockerfile", "makefile": "Makefile",
	"cmake": "CMake", "tex": "TeX", "latex": "TeX", "apex": "Apex", "abap": "ABAP",
	"smalltalk": "Smalltalk", "pascal": "Pascal", "delphi": "Pascal", "ada": "Ada",
	"coffeescript": "CoffeeScript", "actionscript": "ActionScript", "haxe": "Haxe",
}
