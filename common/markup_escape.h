// Text placed in XML or HTML (GPX exports on the server, HTML reports in dispatchctl): the five
// characters with a markup meaning become entities, so a stop named `<b>"Nord" & Co's</b>`
// stays text inside an element or a double- or single-quoted attribute.
//
//   out += "<name>" + cit::EscapeMarkup(stop.name()) + "</name>";
//
// Thread contract: a pure function.
#ifndef CIT_COMMON_MARKUP_ESCAPE_H_
#define CIT_COMMON_MARKUP_ESCAPE_H_

#include <string>
#include <string_view>

namespace cit {

inline std::string EscapeMarkup(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

}  // namespace cit

#endif  // CIT_COMMON_MARKUP_ESCAPE_H_
