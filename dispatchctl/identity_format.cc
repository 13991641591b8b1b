#include "dispatchctl/identity_format.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/time/time.h"

namespace cit::ctl {
namespace {

using google::protobuf::Timestamp;
using google::protobuf::util::TimeUtil;

bool Before(const Timestamp& a, const Timestamp& b) {
  return a.seconds() < b.seconds() || (a.seconds() == b.seconds() && a.nanos() < b.nanos());
}

void AddOnce(std::vector<std::string>& list, const std::string& value) {
  if (!value.empty() && std::find(list.begin(), list.end(), value) == list.end()) {
    list.push_back(value);
  }
}

std::string ChangeName(cit::v1::IdentityChange c) {
  std::string name = cit::v1::IdentityChange_Name(c);
  return name.rfind("IDENTITY_CHANGE_", 0) == 0 ? name.substr(16) : name;
}

std::string Pad(const std::string& s, size_t width) {
  return s.size() >= width ? s + " " : s + std::string(width - s.size() + 1, ' ');
}

}  // namespace

std::optional<TimeWindow> ParseTimeWindow(std::string_view text) {
  TimeWindow w;
  absl::Time t;
  std::string err;
  if (text.size() == 10 &&
      absl::ParseTime("%Y-%m-%d", std::string(text), absl::UTCTimeZone(), &t, &err)) {
    const int64_t start = absl::ToUnixSeconds(t);
    w.from.set_seconds(start);
    w.to.set_seconds(start + 86'399);
    w.to.set_nanos(999'999'999);
    w.day = true;
    return w;
  }
  if (!TimeUtil::FromString(std::string(text), &w.from)) return std::nullopt;
  w.to = w.from;
  return w;
}

bool RoleMayAcknowledge(std::string_view role) {
  return role == "operator" || role == "dispatcher" || role == "admin";
}

std::vector<IdentityInForce> IdentitiesInForce(const std::vector<cit::v1::IdentityEvent>& events,
                                               const TimeWindow& window) {
  // Replay up to the window's start, then collect everything that holds at some moment of it.
  std::map<std::string, cit::v1::IdentityEvent> state;
  std::map<std::string, IdentityInForce> held;
  bool started = false;
  auto hold_current = [&] {
    for (const auto& [name, e] : state) {
      IdentityInForce& h = held[name];
      h.name = name;
      AddOnce(h.roles, e.role());
      AddOnce(h.fingerprints, e.token_fingerprint());
    }
  };
  for (const cit::v1::IdentityEvent& e : events) {
    if (Before(window.to, e.time())) break;  // after the window
    if (!started && Before(window.from, e.time())) {
      hold_current();  // the state when the window opened
      started = true;
    }
    if (e.change() == cit::v1::IDENTITY_CHANGE_REMOVED) {
      state.erase(e.name());
    } else {
      state[e.name()] = e;
    }
    if (started) {
      if (e.change() != cit::v1::IDENTITY_CHANGE_REMOVED) {
        IdentityInForce& h = held[e.name()];
        h.name = e.name();
        AddOnce(h.roles, e.role());
        AddOnce(h.fingerprints, e.token_fingerprint());
      }
    }
  }
  if (!started) hold_current();
  std::vector<IdentityInForce> out;
  for (auto& [name, h] : held) {
    h.can_acknowledge = std::any_of(h.roles.begin(), h.roles.end(),
                                    [](const std::string& r) { return RoleMayAcknowledge(r); });
    out.push_back(std::move(h));
  }
  return out;
}

std::string FormatIdentityHistory(const std::vector<cit::v1::IdentityEvent>& events) {
  std::ostringstream out;
  out << "Identity log (" << events.size() << " entries; changes of the token file as the "
      << "server read it at start-up)\n";
  for (const cit::v1::IdentityEvent& e : events) {
    out << "  #" << Pad(std::to_string(e.index()), 3) << Pad(TimeUtil::ToString(e.time()), 30)
        << Pad(ChangeName(e.change()), 13) << Pad(e.name(), 12);
    switch (e.change()) {
      case cit::v1::IDENTITY_CHANGE_ROLE_CHANGED:
        out << e.previous_role() << " -> " << e.role();
        break;
      case cit::v1::IDENTITY_CHANGE_TOKEN_ROTATED:
        out << e.role() << " token " << e.previous_token_fingerprint() << " -> "
            << e.token_fingerprint();
        break;
      default:
        out << e.role() << " token " << e.token_fingerprint();
    }
    out << "  (" << (e.token_file().empty() ? "no token file" : e.token_file()) << " sha256 "
        << e.token_file_sha256().substr(0, 16) << ")\n";
  }
  return out.str();
}

std::string FormatIdentitiesInForce(const std::vector<IdentityInForce>& who,
                                    const TimeWindow& window) {
  std::ostringstream out;
  out << "In force " << (window.day ? "on " : "at ") << TimeUtil::ToString(window.from)
      << (window.day ? " .. " + TimeUtil::ToString(window.to) : "") << " (" << who.size()
      << " operators):\n";
  for (const IdentityInForce& h : who) {
    out << "  " << Pad(h.name, 12) << Pad(absl::StrJoin(h.roles, ", "), 22)
        << (h.can_acknowledge ? "may acknowledge alerts" : "may not acknowledge alerts")
        << "  token " << absl::StrJoin(h.fingerprints, ", ") << "\n";
  }
  out << "(The server learns of token file changes when it starts: a change is in force from "
         "that start-up on.)\n";
  return out.str();
}

}  // namespace cit::ctl
