package io.unbroken.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ChunkFramingTest {

  @Test
  void wellFramedBodiesPassWhateverTheReadsTheyArriveIn() {
    for (String body : new String[] {"3\r\nabc\r\n0\r\n\r\n", "a;name=value\r\n0123456789\r\n0\r\n\r\n",
        "3 ;ext\r\nabc\r\n0\r\nTrailer: x\r\n\r\n", "1\r\n\n\r\n0\r\n\r\n"}) {
      for (int split = 0; split <= body.length(); split++) {
        ChunkFraming framing = new ChunkFraming();
        ByteBuf bytes = Unpooled.copiedBuffer(body, StandardCharsets.US_ASCII);

        assertThat(framing.follow(bytes, 0, split)).as(body + " read up to " + split).isNull();
        assertThat(framing.follow(bytes, split, body.length())).as(body + " read from " + split).isNull();
      }
    }
  }

  @Test
  void whitespaceAroundAChunkSizeIsRefused() {
    assertThat(refusal(" 3\r\nabc\r\n0\r\n\r\n")).contains("starts with whitespace");
    assertThat(refusal("3\t\r\nabc\r\n0\r\n\r\n")).contains("followed by whitespace");
    assertThat(refusal("3\r\nabc\r\n0 \r\n\r\n")).as("the last chunk too").contains("followed by whitespace");
    assertThat(refusal("3 4\r\nabc\r\n")).contains("followed by whitespace");
    assertThat(refusal("x\r\n")).contains("not a hex digit");
    assertThat(refusal("1\r2\r\nA\r\n5 \r\n")).as("Netty reads size 1 here").contains("a CR not followed by LF");
    assertThat(refusal("3\r\nabc\r\n0\r\nX: a\rb\r\n\r\n")).as("in a trailer").contains("a CR not followed by LF");
  }

  @Test
  void aResetFramingFollowsTheNextBodyFromItsStart() {
    ChunkFraming framing = new ChunkFraming();
    ByteBuf first = Unpooled.copiedBuffer("5\r\nab", StandardCharsets.US_ASCII);
    framing.follow(first, 0, first.writerIndex());

    framing.reset();

    ByteBuf next = Unpooled.copiedBuffer("2\r\nab\r\n0\r\n\r\n", StandardCharsets.US_ASCII);
    assertThat(framing.follow(next, 0, next.writerIndex())).isNull();
  }

  private static String refusal(String body) {
    ByteBuf bytes = Unpooled.copiedBuffer(body, StandardCharsets.US_ASCII);
    return new ChunkFraming().follow(bytes, 0, body.length());
  }
}
