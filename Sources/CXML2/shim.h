#include <libxml/xmlversion.h>
// libxml2 pulls in the system ICU headers, whose UErrorCode clashes with Foundation's copy
// in clean builds; nothing here needs libxml2's ICU support.
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
