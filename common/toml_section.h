// Strict reading of one TOML table, shared by the dispatch-server and vehicle-agent configs.
//
// Every value must have the expected type and fit the field it lands in, and a key nobody asked
// for is an error: in a security system a typo ("fsync_intervall_ms") or a wrong type must not
// fall back silently to a default. Integers are read with toml++'s value_exact, never value<>:
// value<int64_t>() converts a float node with a cast that is undefined behaviour for 1.8e19
// (found by fuzz.agent_config).
//
//   cit::config::TomlSection root(&table, "");
//   cit::config::TomlSection journal = root.Sub("journal");
//   journal.Get("max_bytes", &options.max_bytes);
//   if (absl::Status s = journal.Finish(); !s.ok()) return s;
//   if (absl::Status s = root.Finish(); !s.ok()) return s;
//
// Thread contract: one object per thread; it only reads the table it was given.
#ifndef CIT_COMMON_TOML_SECTION_H_
#define CIT_COMMON_TOML_SECTION_H_

#include <toml++/toml.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cit::config {

class TomlSection {
 public:
  // Reads `table` (null: the section is absent and every Get keeps its default). `name` is the
  // dotted path used in error messages, "" for the document's root.
  TomlSection(const toml::table* table, std::string name) : name_(std::move(name)), table_(table) {}

  // The section [`name`] of `root`, without claiming the key in `root` (for files whose other
  // sections belong to other readers). A `name` that is not a table is an error on Finish.
  static TomlSection In(const toml::table& root, std::string name) {
    TomlSection s(nullptr, std::move(name));
    if (const toml::node* n = root.get(s.name_)) {
      s.table_ = n->as_table();
      if (s.table_ == nullptr) s.error_ = absl::StrCat("[", s.name_, "] must be a table");
    }
    return s;
  }

  // The sub-table `key` of this section, claiming the key here.
  TomlSection Sub(std::string_view key) {
    const toml::node* n = Take(key);
    TomlSection s(nullptr, Path(key));
    if (n != nullptr) {
      s.table_ = n->as_table();
      if (s.table_ == nullptr) s.error_ = absl::StrCat("[", s.name_, "] must be a table");
    }
    return s;
  }

  // Claims `key` and returns its node (null when absent) for values of a custom shape.
  const toml::node* Take(std::string_view key) {
    known_.emplace(key);
    return table_ == nullptr ? nullptr : table_->get(key);
  }

  bool Has(std::string_view key) const { return table_ != nullptr && table_->contains(key); }

  // Reads `key` into `out` when present: bool, std::string, a finite non-negative double (an
  // integer is accepted) or a non-negative integer that fits T. A float is refused for an integer
  // field.
  template <typename T>
  void Get(std::string_view key, T* out) {
    const toml::node* n = Take(key);
    if (n == nullptr || !error_.empty()) return;
    if constexpr (std::is_same_v<T, bool>) {
      if (auto v = n->value_exact<bool>()) {
        *out = *v;
        return;
      }
      Fail(absl::StrCat(Path(key), " must be true or false"));
    } else if constexpr (std::is_same_v<T, std::string>) {
      if (auto v = n->value_exact<std::string>()) {
        *out = *v;
        return;
      }
      Fail(absl::StrCat(Path(key), " must be a string"));
    } else if constexpr (std::is_same_v<T, double>) {
      std::optional<double> v = n->value<double>();  // float or integer; no UB this way round
      if (!v || !std::isfinite(*v)) return Fail(absl::StrCat(Path(key), " must be a number"));
      if (*v < 0) return Fail(absl::StrCat(Path(key), " must not be negative"));
      *out = *v;
    } else {
      static_assert(std::is_integral_v<T>, "TomlSection::Get: unsupported field type");
      GetInteger(key, *n, out);
    }
  }

  // Records the first error (later ones are usually consequences of it).
  void Fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  // The first error, else an unknown key, else OK.
  absl::Status Finish() const {
    if (!error_.empty()) return absl::InvalidArgumentError(error_);
    if (table_ == nullptr) return absl::OkStatus();
    for (const auto& [k, v] : *table_) {
      if (known_.count(k.str()) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("unknown key ", Path(k.str()),
                                                       " (a typo? the documented keys are in ",
                                                       "the example configuration file)"));
      }
    }
    return absl::OkStatus();
  }

  // `key` with this section's path in front: "journal.max_bytes".
  std::string Path(std::string_view key) const {
    return name_.empty() ? std::string(key) : absl::StrCat(name_, ".", std::string(key));
  }

 private:
  template <typename T>
  void GetInteger(std::string_view key, const toml::node& n, T* out) {
    std::optional<int64_t> v = n.value_exact<int64_t>();
    if (!v) return Fail(absl::StrCat(Path(key), " must be an integer"));
    // Counts, sizes, ports, durations and times: no configuration integer is negative.
    if (*v < 0) return Fail(absl::StrCat(Path(key), " must not be negative"));
    if (!FitsIn<T>(*v)) {
      return Fail(absl::StrCat(Path(key), " = ", *v, " is too large (at most ",
                               std::numeric_limits<T>::max(), ")"));
    }
    *out = static_cast<T>(*v);
  }

  // Whether the non-negative `v` is a value of T.
  template <typename T>
  static bool FitsIn(int64_t v) {
    if constexpr (sizeof(T) >= sizeof(int64_t)) {
      return true;
    } else {
      return static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<T>::max());
    }
  }

  std::string name_;
  const toml::table* table_ = nullptr;
  std::set<std::string, std::less<>> known_;
  std::string error_;
};

}  // namespace cit::config

#endif  // CIT_COMMON_TOML_SECTION_H_
