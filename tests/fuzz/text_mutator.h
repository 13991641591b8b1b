// Structure-aware mutations for the text formats (JSON, GPX/XML, TOML, encoded polylines),
// used by the targets' LLVMFuzzerCustomMutator. libFuzzer's byte mutations almost never keep a
// document balanced while nesting it deeper or repeating an element many times, so a parser's
// limits on depth and size (issue 10, 4.1 and 4.4) were out of the fuzzer's reach. These
// mutations keep the syntax valid:
//   - wrap a JSON value (array, object, string, number, literal) in k more arrays;
//   - repeat an array element k times (", <element>");
//   - repeat an XML element k times;
//   - repeat any chunk k times (polylines, line protocols);
// with k small most of the time, sometimes as large as the current size or as fits max_size.
// Half of all calls are plain LLVMFuzzerMutate.
//
//   extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* d, size_t n, size_t max, unsigned seed) {
//     return cit::fuzz::MutateText(d, n, max, seed);
//   }
#ifndef CIT_TESTS_FUZZ_TEXT_MUTATOR_H_
#define CIT_TESTS_FUZZ_TEXT_MUTATOR_H_

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace cit::fuzz {

using Span = std::pair<size_t, size_t>;  // [begin, end)

// The end of the JSON value starting at `b`, if one starts there (not validated beyond
// bracket balance and string escapes).
inline std::optional<size_t> JsonValueEnd(std::string_view s, size_t b) {
  const char c = s[b];
  if (c == '"') {
    for (size_t i = b + 1; i < s.size(); ++i) {
      if (s[i] == '\\') {
        ++i;
      } else if (s[i] == '"') {
        return i + 1;
      }
    }
    return std::nullopt;
  }
  if (c == '[' || c == '{') {
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = b; i < s.size(); ++i) {
      if (in_string) {
        if (s[i] == '\\') {
          ++i;
        } else if (s[i] == '"') {
          in_string = false;
        }
      } else if (s[i] == '"') {
        in_string = true;
      } else if (s[i] == '[' || s[i] == '{') {
        ++depth;
      } else if (s[i] == ']' || s[i] == '}') {
        if (--depth == 0) return i + 1;
      }
    }
    return std::nullopt;
  }
  if (std::isdigit(static_cast<unsigned char>(c)) || c == '-' || std::isalpha(c)) {
    size_t i = b;
    while (i < s.size() && (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                            s[i] == '-' || s[i] == '+'))
      ++i;
    return i;
  }
  return std::nullopt;
}

// The non-space character before `b`, or 0.
inline char PrevNonSpace(std::string_view s, size_t b) {
  while (b > 0) {
    const char c = s[--b];
    if (!std::isspace(static_cast<unsigned char>(c))) return c;
  }
  return 0;
}

// A random JSON value that is an array element or an object member's value.
inline std::optional<Span> RandomJsonValue(std::string_view s, std::mt19937_64& rng) {
  if (s.empty()) return std::nullopt;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const size_t b = rng() % s.size();
    const char prev = PrevNonSpace(s, b);
    if (prev != '[' && prev != ',' && prev != ':') continue;
    if (std::optional<size_t> e = JsonValueEnd(s, b)) return Span{b, *e};
  }
  return std::nullopt;
}

// A random XML element `<name ...>...</name>` or `<name .../>`.
inline std::optional<Span> RandomXmlElement(std::string_view s, std::mt19937_64& rng) {
  if (s.empty()) return std::nullopt;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const size_t b = s.find('<', rng() % s.size());
    if (b == std::string_view::npos || b + 1 >= s.size() ||
        !std::isalpha(static_cast<unsigned char>(s[b + 1])))
      continue;
    size_t n = b + 1;
    while (n < s.size() && (std::isalnum(static_cast<unsigned char>(s[n])) || s[n] == ':')) ++n;
    const std::string name(s.substr(b + 1, n - b - 1));
    const size_t gt = s.find('>', n);
    if (gt == std::string_view::npos) continue;
    if (s[gt - 1] == '/') return Span{b, gt + 1};
    const size_t close = s.find("</" + name + ">", gt);
    if (close != std::string_view::npos) return Span{b, close + name.size() + 3};
  }
  return std::nullopt;
}

// How many copies: mostly 1..8, sometimes about the current size, 1 in `all_one_in` all that
// fit (rare for repeats: huge inputs slow every later execution that starts from them).
inline size_t Copies(std::mt19937_64& rng, size_t unit, size_t size, size_t room,
                     unsigned all_one_in = 32) {
  if (unit == 0) return 0;
  const size_t fit = room / unit;
  if (fit == 0) return 0;
  if (rng() % all_one_in == 0) return fit;
  const unsigned pick = static_cast<unsigned>(rng() % 32);
  if (pick < 8) return std::min(fit, std::max<size_t>(1, size / unit));
  return std::min(fit, 1 + static_cast<size_t>(rng() % 8));
}

inline size_t MutateText(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  std::mt19937_64 rng(seed);
  const unsigned op = static_cast<unsigned>(rng() % 10);
  if (op < 5) return LLVMFuzzerMutate(data, size, max_size);
  const std::string_view s(reinterpret_cast<const char*>(data), size);
  const size_t room = max_size > size ? max_size - size : 0;
  std::string out;
  if (op == 5 || op == 6) {  // wrap a JSON value in k arrays
    const std::optional<Span> v = RandomJsonValue(s, rng);
    // As deep as fits often: a depth limit (or the stack) is what this mutation is for.
    const size_t k = v ? Copies(rng, 2, size, room, 4) : 0;
    if (k > 0) {
      out.reserve(size + 2 * k);
      out.append(s.substr(0, v->first)).append(k, '[');
      out.append(s.substr(v->first, v->second - v->first)).append(k, ']');
      out.append(s.substr(v->second));
    }
  } else if (op == 7) {  // repeat an array element
    const std::optional<Span> v = RandomJsonValue(s, rng);
    if (v && PrevNonSpace(s, v->first) != ':') {
      const std::string item = "," + std::string(s.substr(v->first, v->second - v->first));
      const size_t k = Copies(rng, item.size(), size, room);
      if (k > 0) {
        out.append(s.substr(0, v->second));
        for (size_t i = 0; i < k; ++i) out.append(item);
        out.append(s.substr(v->second));
      }
    }
  } else if (op == 8) {  // repeat an XML element
    const std::optional<Span> e = RandomXmlElement(s, rng);
    if (e) {
      const std::string_view item = s.substr(e->first, e->second - e->first);
      const size_t k = Copies(rng, item.size(), size, room);
      if (k > 0) {
        out.append(s.substr(0, e->second));
        for (size_t i = 0; i < k; ++i) out.append(item);
        out.append(s.substr(e->second));
      }
    }
  } else if (size > 0) {  // repeat a chunk
    const size_t b = rng() % size;
    const size_t len = 1 + rng() % std::min<size_t>(size - b, 64);
    const std::string_view item = s.substr(b, len);
    const size_t k = Copies(rng, len, size, room);
    if (k > 0) {
      out.append(s.substr(0, b + len));
      for (size_t i = 0; i < k; ++i) out.append(item);
      out.append(s.substr(b + len));
    }
  }
  if (out.empty() || out.size() > max_size) return LLVMFuzzerMutate(data, size, max_size);
  std::memcpy(data, out.data(), out.size());
  return out.size();
}

}  // namespace cit::fuzz

#endif  // CIT_TESTS_FUZZ_TEXT_MUTATOR_H_
