/* bimhub/bimhub.h: libbimhub, the C client and service SDK of bimhub (and of any server
 * speaking the BIMserver JSON protocol). One include for everything:
 *
 *   common.h   return codes, struct bimhub_error, logging, conventions (read it first)
 *   client.h   struct bimhub_client: /json calls, login, projects, users, check-in,
 *              revisions, downloads, extended data, services on projects
 *   stream.h   struct bimhub_stream: the /stream endpoint, pushes as typed callbacks,
 *              heartbeats, reconnect with resume
 *   service.h  struct bimhub_service: a remote service provider (RemoteServiceInterface)
 *              with signed, deduplicated, spooled notifications
 *
 * Build against it with `pkg-config --cflags --libs bimhub`. */
#ifndef BIMHUB_BIMHUB_H
#define BIMHUB_BIMHUB_H

#include "bimhub/common.h"
#include "bimhub/client.h"
#include "bimhub/stream.h"
#include "bimhub/service.h"

#endif
