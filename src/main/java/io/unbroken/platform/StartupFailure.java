package io.unbroken.platform;

/** The node cannot start; the message is the one line an operator needs (which key or address, and why). */
public final class StartupFailure extends RuntimeException {

  public StartupFailure(String message) {
    super(message, null, false, false);
  }

  /** The URL with its password, if any, replaced by {@code ***}: these messages go to stderr and logs. */
  public static String redact(String url) {
    return url.replaceAll("://([^:@/]*):[^@/]*@", "://$1:***@");
  }
}
