/* SPDX-License-Identifier: MIT */
/* Names of libkick's error codes. */
#include "kick.h"

const char *
kick_strerror(int code)
{
    switch (code) {
    case KICK_OK:
        return "success";
    case KICK_ENOMEM:
        return "out of memory";
    case KICK_EINVAL:
        return "invalid argument";
    case KICK_ENOTSCRIPT:
        return "not inside a kick script (KICK_CONTROL is not set)";
    case KICK_ECONNECT:
        return "cannot reach kickd";
    case KICK_ETIMEDOUT:
        return "kickd did not answer in time";
    case KICK_EREFUSED:
        return "refused by kickd";
    case KICK_EPROTO:
        return "unexpected answer from kickd";
    case KICK_EHTTP:
        return "kickd answered with an error";
    case KICK_EDNS:
        return "the host name does not resolve";
    default:
        return "unknown error";
    }
}
