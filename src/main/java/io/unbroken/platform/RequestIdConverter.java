package io.unbroken.platform;

import ch.qos.logback.classic.pattern.ClassicConverter;
import ch.qos.logback.classic.spi.ILoggingEvent;

/** Logback {@code %requestId}: the id of the request being handled on this context, or "-". */
public final class RequestIdConverter extends ClassicConverter {

  @Override
  public String convert(ILoggingEvent event) {
    String requestId = RequestScope.current();
    return requestId == null ? "-" : requestId;
  }
}
