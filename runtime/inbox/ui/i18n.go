package ui

import (
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"

	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"
)

// The page's languages: English first (the fallback), then Spanish and Portuguese.
var languages = []language.Tag{language.English, language.Spanish, language.Portuguese}

// LangCookie holds the language a person chose with the switch.
const LangCookie = "sb_lang"

//go:embed i18n/*.json
var catalogues embed.FS

// i18n holds the catalogues (i18n/<lang>.json: key → printf format) and a matcher for
// Accept-Language. Every key exists in every catalogue (checked at start and by a test).
type i18n struct {
	cat     *catalog.Builder
	matcher language.Matcher
	keys    []string
}

func loadI18n() (*i18n, error) {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	var keys []string
	sets := map[language.Tag]map[string]string{}
	for _, tag := range languages {
		base, _ := tag.Base()
		raw, err := catalogues.ReadFile("i18n/" + base.String() + ".json")
		if err != nil {
			return nil, err
		}
		m := map[string]string{}
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("i18n/%s.json: %w", base, err)
		}
		sets[tag] = m
		for k, v := range m {
			if err := b.SetString(tag, k, v); err != nil {
				return nil, fmt.Errorf("i18n/%s.json: %s: %w", base, k, err)
			}
		}
	}
	for k := range sets[language.English] {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for tag, m := range sets {
		if len(m) != len(keys) {
			return nil, fmt.Errorf("i18n: the %s catalogue has %d keys, English %d", tag, len(m), len(keys))
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				return nil, fmt.Errorf("i18n: the %s catalogue lacks %q", tag, k)
			}
		}
	}
	return &i18n{cat: b, matcher: language.NewMatcher(languages), keys: keys}, nil
}

// lang picks the request's language: the switch's cookie, else Accept-Language.
func (l *i18n) lang(r *http.Request) language.Tag {
	var prefs []string
	if c, err := r.Cookie(LangCookie); err == nil {
		prefs = append(prefs, c.Value)
	}
	prefs = append(prefs, r.Header.Get("Accept-Language"))
	tag, _ := language.MatchStrings(l.matcher, prefs...)
	base, _ := tag.Base()
	for _, t := range languages {
		if b, _ := t.Base(); b == base {
			return t
		}
	}
	return language.English
}

// printer translates into tag.
func (l *i18n) printer(tag language.Tag) *message.Printer {
	return message.NewPrinter(tag, message.Catalog(l.cat))
}
