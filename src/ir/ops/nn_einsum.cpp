#include "ir/ops/nn_einsum.h"

#include <algorithm>
#include <cctype>
#include <string>

#include "kiln/error.h"

namespace kiln::ir {

namespace {

constexpr int k_letters = 52;  // a-z then A-Z; ellipsis labels follow

int letter_id(char c) { return std::islower(static_cast<unsigned char>(c)) ? c - 'a' : c - 'A' + 26; }

struct Term {
  std::vector<int> letters_before, letters_after;  // around the ellipsis
  bool ellipsis = false;
};

}  // namespace

EinsumSpec parse_einsum(const Node& node, const std::vector<size_t>& ranks) {
  const auto bad = [&](const std::string& what) -> void {
    throw Error(ErrorCode::InvalidModel, node.label() + ": equation '" + node.attr_s("equation", "") +
                                             "': " + what);
  };
  std::string eq;
  for (char c : node.attr_s("equation", ""))
    if (!std::isspace(static_cast<unsigned char>(c))) eq += c;
  const size_t arrow = eq.find("->");
  const bool explicit_out = arrow != std::string::npos;
  const std::string lhs = explicit_out ? eq.substr(0, arrow) : eq;
  const std::string rhs = explicit_out ? eq.substr(arrow + 2) : "";

  const auto parse_term = [&](const std::string& t) {
    Term term;
    for (size_t i = 0; i < t.size(); ++i) {
      if (t.compare(i, 3, "...") == 0) {
        if (term.ellipsis) bad("more than one ellipsis in a term");
        term.ellipsis = true;
        i += 2;
      } else if (std::isalpha(static_cast<unsigned char>(t[i]))) {
        (term.ellipsis ? term.letters_after : term.letters_before).push_back(letter_id(t[i]));
      } else {
        bad(std::string("unexpected character '") + t[i] + "'");
      }
    }
    return term;
  };

  std::vector<Term> terms;
  for (size_t start = 0;;) {
    const size_t comma = lhs.find(',', start);
    terms.push_back(parse_term(lhs.substr(start, comma == std::string::npos ? comma : comma - start)));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (terms.size() != ranks.size())
    bad("has " + std::to_string(terms.size()) + " operand terms for " + std::to_string(ranks.size()) +
        " inputs");

  // Ellipsis width: the largest number of axes any ellipsis stands for.
  size_t ell = 0;
  std::vector<size_t> ell_width(terms.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    const size_t named = terms[i].letters_before.size() + terms[i].letters_after.size();
    if (ranks[i] < named || (!terms[i].ellipsis && ranks[i] != named))
      bad("term " + std::to_string(i) + " names " + std::to_string(named) + " axes but the input has rank " +
          std::to_string(ranks[i]));
    ell_width[i] = ranks[i] - named;
    ell = std::max(ell, ell_width[i]);
  }

  EinsumSpec spec;
  spec.num_labels = k_letters + static_cast<int>(ell);
  std::vector<int> count(k_letters, 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    std::vector<int> labels = terms[i].letters_before;
    for (size_t k = 0; k < ell_width[i]; ++k)
      labels.push_back(k_letters + static_cast<int>(ell - ell_width[i] + k));
    labels.insert(labels.end(), terms[i].letters_after.begin(), terms[i].letters_after.end());
    for (int l : labels)
      if (l < k_letters) ++count[static_cast<size_t>(l)];
    spec.inputs.push_back(std::move(labels));
  }

  if (explicit_out) {
    const Term out = parse_term(rhs);
    if (out.ellipsis && ell == 0 && std::none_of(terms.begin(), terms.end(), [](const Term& t) { return t.ellipsis; }))
      bad("output has an ellipsis but no input does");
    spec.output = out.letters_before;
    if (out.ellipsis)
      for (size_t k = 0; k < ell; ++k) spec.output.push_back(k_letters + static_cast<int>(k));
    spec.output.insert(spec.output.end(), out.letters_after.begin(), out.letters_after.end());
    std::vector<bool> seen(static_cast<size_t>(spec.num_labels), false);
    for (int l : spec.output) {
      if (l < k_letters && count[static_cast<size_t>(l)] == 0) bad("output label is not in any input");
      if (seen[static_cast<size_t>(l)]) bad("output repeats a label");
      seen[static_cast<size_t>(l)] = true;
    }
  } else {
    // Implicit mode: broadcast axes first, then labels used once, in alphabetical (ASCII) order.
    for (size_t k = 0; k < ell; ++k) spec.output.push_back(k_letters + static_cast<int>(k));
    for (int l = 26; l < k_letters; ++l)  // upper case sorts first in ASCII
      if (count[static_cast<size_t>(l)] == 1) spec.output.push_back(l);
    for (int l = 0; l < 26; ++l)
      if (count[static_cast<size_t>(l)] == 1) spec.output.push_back(l);
  }
  return spec;
}

}  // namespace kiln::ir
