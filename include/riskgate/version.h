/* version.h - the product version (semver) and the contract version. */
#ifndef RISKGATE_VERSION_H
#define RISKGATE_VERSION_H

#define RISKGATE_VERSION "0.1.0"

#endif
