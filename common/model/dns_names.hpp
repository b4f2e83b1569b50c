// DNS names of attachments (the `names` of an attachment record): what is valid, and the stored form.
#pragma once

#include <string>
#include <string_view>


namespace ovl::model {

// A DNS name we accept: 1-253 characters, dot-separated labels of 1-63 letters, digits, '-' or '_',
// no label starting or ending with '-'. A trailing dot is allowed.
bool isValidDnsName(std::string_view name);
// Lower-cases ASCII and drops one trailing dot.
std::string canonicalName(std::string_view name);

}  // namespace ovl::model
