// A small HTML/XML tag scanner for the report's tests: tokens (tags with their attributes, text),
// checks of nesting and entity use, and entity decoding. Deliberately independent of src/report/.
#pragma once
#include <cctype>
#include <cstdint>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

namespace microsr::testing::html {

struct Token {
  enum class Kind { open, close, self_closed, text } kind = Kind::text;
  std::string name;                          // lower-case tag name
  std::map<std::string, std::string> attrs;  // values decoded
  std::string text;                          // text tokens: decoded
  std::string raw;                           // text tokens: as written
  std::size_t offset = 0;                    // where the token starts in the document
  bool has_class(const std::string& c) const {
    const auto it = attrs.find("class");
    if (it == attrs.end()) return false;
    const std::string padded = " " + it->second + " ";
    return padded.find(" " + c + " ") != std::string::npos;
  }
  std::string attr(const std::string& key) const {
    const auto it = attrs.find(key);
    return it == attrs.end() ? "" : it->second;
  }
};

// Whether every '&' in `s` starts a character reference (&name; &#123; &#x1F;).
inline bool entities_well_formed(const std::string& s) {
  for (std::size_t i = s.find('&'); i != std::string::npos; i = s.find('&', i + 1)) {
    std::size_t j = i + 1;
    if (j < s.size() && s[j] == '#') {
      ++j;
      const bool hex = j < s.size() && (s[j] == 'x' || s[j] == 'X');
      if (hex) ++j;
      const std::size_t start = j;
      while (j < s.size() &&
             (hex ? std::isxdigit(static_cast<unsigned char>(s[j])) : std::isdigit(static_cast<unsigned char>(s[j]))))
        ++j;
      if (j == start) return false;
    } else {
      const std::size_t start = j;
      while (j < s.size() && std::isalnum(static_cast<unsigned char>(s[j]))) ++j;
      if (j == start) return false;
    }
    if (j >= s.size() || s[j] != ';') return false;
  }
  return true;
}

inline void append_utf8(std::string& out, uint32_t c) {
  if (c < 0x80) {
    out += char(c);
  } else if (c < 0x800) {
    out += char(0xC0 | (c >> 6)), out += char(0x80 | (c & 63));
  } else if (c < 0x10000) {
    out += char(0xE0 | (c >> 12)), out += char(0x80 | ((c >> 6) & 63)), out += char(0x80 | (c & 63));
  } else {
    out += char(0xF0 | (c >> 18)), out += char(0x80 | ((c >> 12) & 63)), out += char(0x80 | ((c >> 6) & 63));
    out += char(0x80 | (c & 63));
  }
}

// Decodes the five XML entities and numeric references; throws on anything else.
inline std::string decode(const std::string& s) {
  static const std::map<std::string, std::string> kNamed = {
      {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const std::size_t end = s.find(';', i);
    if (end == std::string::npos) throw std::runtime_error("a bare '&' in: " + s);
    const std::string ref = s.substr(i + 1, end - i - 1);
    if (!ref.empty() && ref[0] == '#') {
      const bool hex = ref.size() > 1 && (ref[1] == 'x' || ref[1] == 'X');
      append_utf8(out, uint32_t(std::stoul(ref.substr(hex ? 2 : 1), nullptr, hex ? 16 : 10)));
    } else {
      const auto it = kNamed.find(ref);
      if (it == kNamed.end()) throw std::runtime_error("unknown entity &" + ref + ";");
      out += it->second;
    }
    i = end;
  }
  return out;
}

// The tokens of a document. Comments and <!DOCTYPE> are skipped; the contents of <style> and
// <script> are one raw text token. Every attribute value must be quoted (the report always
// quotes); throws std::runtime_error on anything malformed.
inline std::vector<Token> scan(const std::string& doc) {
  std::vector<Token> tokens;
  std::size_t i = 0;
  auto fail = [&](const std::string& what) {
    throw std::runtime_error(what + " at byte " + std::to_string(i) + ": " + doc.substr(i, 60));
  };
  while (i < doc.size()) {
    if (doc[i] != '<') {
      const std::size_t end = std::min(doc.find('<', i), doc.size());
      Token t;
      t.offset = i;
      t.raw = doc.substr(i, end - i);
      if (t.raw.find('>') != std::string::npos) fail("a raw '>' in text");
      t.text = decode(t.raw);
      tokens.push_back(t);
      i = end;
      continue;
    }
    if (doc.compare(i, 4, "<!--") == 0) {
      const std::size_t end = doc.find("-->", i);
      if (end == std::string::npos) fail("an unclosed comment");
      i = end + 3;
      continue;
    }
    if (doc.compare(i, 2, "<!") == 0) {
      i = doc.find('>', i) + 1;
      continue;
    }
    Token t;
    t.offset = i;
    std::size_t j = i + 1;
    if (doc[j] == '/')
      t.kind = Token::Kind::close, ++j;
    else
      t.kind = Token::Kind::open;
    const std::size_t name_start = j;
    while (j < doc.size() && (std::isalnum(static_cast<unsigned char>(doc[j])) || doc[j] == '-' || doc[j] == ':')) ++j;
    if (j == name_start) fail("a '<' that starts no tag");
    for (std::size_t k = name_start; k < j; ++k) t.name += char(std::tolower(static_cast<unsigned char>(doc[k])));
    for (;;) {
      while (j < doc.size() && std::isspace(static_cast<unsigned char>(doc[j]))) ++j;
      if (j >= doc.size()) fail("an unclosed tag");
      if (doc[j] == '>') {
        ++j;
        break;
      }
      if (doc.compare(j, 2, "/>") == 0) {
        t.kind = Token::Kind::self_closed;
        j += 2;
        break;
      }
      const std::size_t key_start = j;
      while (j < doc.size() && !std::isspace(static_cast<unsigned char>(doc[j])) && doc[j] != '=' && doc[j] != '>' &&
             doc[j] != '/')
        ++j;
      const std::string key = doc.substr(key_start, j - key_start);
      if (key.empty()) fail("an empty attribute name");
      if (doc[j] != '=') fail("attribute " + key + " without a quoted value");
      ++j;
      if (doc[j] != '"' && doc[j] != '\'') fail("attribute " + key + " with an unquoted value");
      const char quote = doc[j];
      const std::size_t end = doc.find(quote, j + 1);
      if (end == std::string::npos) fail("an unclosed attribute value");
      const std::string raw = doc.substr(j + 1, end - j - 1);
      if (raw.find('<') != std::string::npos) fail("a raw '<' in attribute " + key);
      if (!entities_well_formed(raw)) fail("a bare '&' in attribute " + key);
      if (!t.attrs.emplace(key, decode(raw)).second) fail("attribute " + key + " twice");
      j = end + 1;
    }
    tokens.push_back(t);
    i = j;
    if (t.kind == Token::Kind::open && (t.name == "style" || t.name == "script")) {
      const std::size_t end = doc.find("</" + t.name, i);
      if (end == std::string::npos) fail("an unclosed <" + t.name + ">");
      Token raw;
      raw.offset = i;
      raw.raw = raw.text = doc.substr(i, end - i);
      tokens.push_back(raw);
      i = end;
    }
  }
  return tokens;
}

// HTML elements that have no end tag.
inline bool is_void(const std::string& name) {
  static const std::set<std::string> kVoid = {"area",  "base", "br",   "col",    "embed", "hr", "img",
                                              "input", "link", "meta", "source", "track", "wbr"};
  return kVoid.count(name) > 0;
}

// "" when every element in tokens[begin, end) is closed in order (void HTML elements excepted
// unless `xml`), else what is wrong.
inline std::string nesting_error(const std::vector<Token>& tokens, std::size_t begin, std::size_t end, bool xml) {
  std::vector<std::string> open;
  for (std::size_t k = begin; k < end; ++k) {
    const Token& t = tokens[k];
    if (t.kind == Token::Kind::open && (xml || !is_void(t.name))) open.push_back(t.name);
    if (t.kind == Token::Kind::close) {
      if (open.empty()) return "</" + t.name + "> closes nothing (byte " + std::to_string(t.offset) + ")";
      if (open.back() != t.name)
        return "</" + t.name + "> closes <" + open.back() + "> (byte " + std::to_string(t.offset) + ")";
      open.pop_back();
    }
  }
  return open.empty() ? "" : "<" + open.back() + "> is never closed";
}

// The decoded text inside tokens[begin, end).
inline std::string text_of(const std::vector<Token>& tokens, std::size_t begin, std::size_t end) {
  std::string out;
  for (std::size_t k = begin; k < end; ++k)
    if (tokens[k].kind == Token::Kind::text) out += tokens[k].text;
  return out;
}

// The index one past the element opened at tokens[open_index] (its matching close tag).
inline std::size_t element_end(const std::vector<Token>& tokens, std::size_t open_index) {
  int depth = 0;
  for (std::size_t k = open_index; k < tokens.size(); ++k) {
    const Token& t = tokens[k];
    if (t.name != tokens[open_index].name) continue;
    if (t.kind == Token::Kind::open) ++depth;
    if (t.kind == Token::Kind::close && --depth == 0) return k + 1;
  }
  throw std::runtime_error("<" + tokens[open_index].name + "> is never closed");
}

}  // namespace microsr::testing::html
