package io.unbroken.locks;

/** A held lock: whose it is, and its fencing token, larger than every token issued for the resource before. */
public record Lock(String resource, String owner, long fencingToken) {}
