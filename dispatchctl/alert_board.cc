#include "dispatchctl/alert_board.h"

#include <algorithm>
#include <sstream>

#include "dispatchctl/format.h"

namespace cit::ctl {
namespace {

constexpr const char* kReset = "\033[0m";
constexpr const char* kInverse = "\033[7m";
constexpr const char* kBold = "\033[1m";

int Urgency(cit::v1::Severity s) { return static_cast<int>(s); }  // CRITICAL is the highest

const char* RowColor(const cit::v1::Alert& a) {
  switch (a.severity()) {
    case cit::v1::SEVERITY_CRITICAL:
      return "\033[1;31m";
    case cit::v1::SEVERITY_HIGH:
      return "\033[31m";
    case cit::v1::SEVERITY_MEDIUM:
      return "\033[33m";
    default:
      return "";
  }
}

// `text` cut or padded to exactly `width` columns (the board's text is ASCII).
std::string Fit(std::string text, int width) {
  text.resize(static_cast<std::size_t>(std::max(width, 0)), ' ');
  return text;
}

std::string Row(const cit::v1::Alert& a, const std::string& place, TimeZoneChoice zone) {
  std::ostringstream out;
  out << (a.state() == cit::v1::ALERT_STATE_OPEN ? "NEW " : "ACK ") << "#" << a.alert_id() << " "
      << SeverityName(a.severity()) << " " << KindName(a.kind()) << "  " << a.vehicle_id();
  if (!a.subject().empty()) out << " [" << a.subject() << "]";
  out << "  "
      << WallClockText(a.has_last_event_time() ? a.last_event_time() : a.event_time(), zone);
  if (a.occurrences() > 1) out << " x" << a.occurrences();
  if (!place.empty()) out << "  " << place;
  if (!a.details().empty()) out << "  " << a.details();
  return out.str();
}

}  // namespace

void AlertBoard::Apply(const cit::v1::AlertEvent& event, const std::string& place) {
  const cit::v1::Alert& a = event.alert();
  if (a.state() == cit::v1::ALERT_STATE_RESOLVED) {
    alerts_.erase(a.alert_id());
    places_.erase(a.alert_id());
  } else {
    if (!place.empty()) places_[a.alert_id()] = place;
    auto it = alerts_.find(a.alert_id());
    // Events can arrive out of revision order across a reconnect: keep the newest.
    if (it == alerts_.end() || it->second.revision() <= a.revision()) alerts_[a.alert_id()] = a;
  }
  if (!moved_) selected_index_ = 0;
  if (!moved_ || !selected_ || alerts_.count(*selected_) == 0) {
    const std::vector<const cit::v1::Alert*> rows = Ordered();
    if (rows.empty()) {
      selected_.reset();
      selected_index_ = 0;
    } else {
      selected_index_ = std::clamp(selected_index_, 0, static_cast<int>(rows.size()) - 1);
      selected_ = rows[selected_index_]->alert_id();
    }
  }
}

void AlertBoard::MoveSelection(int rows) {
  const std::vector<const cit::v1::Alert*> ordered = Ordered();
  if (ordered.empty()) return;
  int at = 0;
  for (std::size_t i = 0; i < ordered.size(); ++i) {
    if (selected_ && ordered[i]->alert_id() == *selected_) at = static_cast<int>(i);
  }
  moved_ = true;
  selected_index_ = std::clamp(at + rows, 0, static_cast<int>(ordered.size()) - 1);
  selected_ = ordered[selected_index_]->alert_id();
}

std::optional<uint64_t> AlertBoard::Selected() const { return selected_; }

const cit::v1::Alert* AlertBoard::Find(uint64_t id) const {
  auto it = alerts_.find(id);
  return it == alerts_.end() ? nullptr : &it->second;
}

std::size_t AlertBoard::critical_open() const {
  return static_cast<std::size_t>(std::count_if(alerts_.begin(), alerts_.end(), [](const auto& e) {
    return e.second.severity() == cit::v1::SEVERITY_CRITICAL &&
           e.second.state() == cit::v1::ALERT_STATE_OPEN;
  }));
}

std::vector<const cit::v1::Alert*> AlertBoard::Ordered() const {
  std::vector<const cit::v1::Alert*> rows;
  for (const auto& [id, a] : alerts_) rows.push_back(&a);
  std::sort(rows.begin(), rows.end(), [](const cit::v1::Alert* x, const cit::v1::Alert* y) {
    if (x->severity() != y->severity()) return Urgency(x->severity()) > Urgency(y->severity());
    const bool x_new = x->state() == cit::v1::ALERT_STATE_OPEN;
    const bool y_new = y->state() == cit::v1::ALERT_STATE_OPEN;
    if (x_new != y_new) return x_new;
    return x->alert_id() > y->alert_id();
  });
  return rows;
}

std::string AlertBoard::Render(const BoardView& view) const {
  const std::vector<const cit::v1::Alert*> rows = Ordered();
  std::ostringstream header;
  header << "citwatch alert board  " << rows.size() << " unresolved, " << critical_open()
         << " critical unacknowledged";
  if (!view.as_of.empty()) header << "  (live, " << view.as_of << ")";
  const std::string keys = "Up/Down select   a acknowledge   r resolve   q quit";

  std::string screen = "\033[H\033[2J";  // home, clear
  const auto line = [&](const std::string& text, const char* style) {
    const bool styled = view.color && style != nullptr && *style != '\0';
    screen += (styled ? style : "") + Fit(text, view.width) + (styled ? kReset : "") + "\r\n";
  };
  line(header.str(), kBold);
  line("", nullptr);
  // Header (2) + keys and status (3) around the rows.
  const int room = std::max(1, view.height - 5);
  int first = 0;
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (selected_ && rows[i]->alert_id() == *selected_) {
      first = std::max(0, static_cast<int>(i) - room + 1);
    }
  }
  for (int i = first; i < first + room; ++i) {
    if (i >= static_cast<int>(rows.size())) {
      line(i == 0 ? "  No unresolved alerts." : "", nullptr);
      continue;
    }
    const cit::v1::Alert& a = *rows[i];
    const bool selected = selected_ && a.alert_id() == *selected_;
    auto place = places_.find(a.alert_id());
    const std::string text =
        (selected ? "> " : "  ") +
        Row(a, place == places_.end() ? std::string() : place->second, view.zone);
    line(text, selected ? kInverse : RowColor(a));
  }
  line("", nullptr);
  line(keys, nullptr);
  screen += Fit(view.status, view.width);  // no newline: the cursor stays on the status line
  return screen;
}

}  // namespace cit::ctl
