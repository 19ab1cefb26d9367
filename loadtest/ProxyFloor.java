import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.util.ReferenceCountUtil;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.http.HttpClientAgent;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.VerticleBase;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The least a JVM proxy does for one request, as floors for the passthrough benchmark: what stops
 * Unbroken's CPU per request from reaching nginx's when Unbroken's own features cost nothing.
 *
 *   vertx  a Vert.x 5 HTTP server forwarding through a pooled Vert.x HTTP client, hop-by-hop
 *          headers dropped, the answer read whole: the layer Unbroken is built on, none of its features
 *   netty  Netty's HTTP codec on both sides and one upstream connection per client connection,
 *          messages passed through as decoded: what a hand-written Netty pipeline could reach
 *
 * Both take the machine's defaults as the jar does (one event loop per core, epoll). Run with the
 * jar on the class path (it holds Vert.x and Netty):
 *   java -cp target/unbroken.jar loadtest/ProxyFloor.java vertx|netty LISTEN_PORT UPSTREAM_PORT
 * It serves until it is stopped. Traffic goes to and from 127.0.0.1 only.
 */
public class ProxyFloor {

  private static final String HOST = "127.0.0.1";
  private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "transfer-encoding",
      "upgrade", "te", "trailer", "proxy-connection");

  public static void main(String[] args) throws Exception {
    if (args.length != 3 || !Set.of("vertx", "netty").contains(args[0])) {
      System.err.println("usage: ProxyFloor vertx|netty LISTEN_PORT UPSTREAM_PORT");
      System.exit(2);
    }
    int listen = Integer.parseInt(args[1]);
    int upstream = Integer.parseInt(args[2]);
    int loops = Runtime.getRuntime().availableProcessors();
    if (args[0].equals("vertx")) {
      vertx(listen, upstream, loops);
    } else {
      netty(listen, upstream, loops);
    }
    System.out.println(args[0] + " floor on " + HOST + ":" + listen + " -> " + HOST + ":" + upstream);
  }

  private static void vertx(int listen, int upstream, int loops) {
    Vertx vertx = Vertx.vertx(new VertxOptions().setPreferNativeTransport(true));
    vertx.deployVerticle(() -> new VerticleBase() {
      @Override
      public Future<?> start() {
        // A client per verticle, as Unbroken's: its connections then live on the server's event
        // loop; one client shared by all loops costs a hop between threads per request.
        HttpClientAgent client = vertx.createHttpClient(
            new HttpClientOptions().setDefaultHost(HOST).setDefaultPort(upstream).setKeepAlive(true),
            new PoolOptions().setHttp1MaxSize(256));
        return vertx.createHttpServer().requestHandler(request -> forward(client, request)).listen(listen, HOST);
      }
    }, new DeploymentOptions().setInstances(loops)).await();
  }

  // As Unbroken forwards: no body, no piping; a small answer read whole and ended in one write.
  private static void forward(HttpClientAgent client, HttpServerRequest request) {
    request.pause();
    client.request(new RequestOptions().setMethod(request.method()).setURI(request.uri()))
        .compose(upstream -> {
          copy(request.headers(), upstream.headers());
          boolean hasBody = request.headers().contains(HttpHeaders.CONTENT_LENGTH)
              || request.headers().contains(HttpHeaders.TRANSFER_ENCODING);
          Future<Void> sent = hasBody ? request.pipeTo(upstream) : upstream.end();
          request.resume();
          return sent.compose(whole -> upstream.response());
        })
        .compose(answer -> {
          HttpServerResponse response = request.response().setStatusCode(answer.statusCode());
          copy(answer.headers(), response.headers());
          return answer.body().compose(response::end);
        })
        .onFailure(failure -> request.response().setStatusCode(502).end());
  }

  private static void copy(MultiMap from, MultiMap to) {
    for (Map.Entry<String, String> header : from) {
      if (!HOP_BY_HOP.contains(header.getKey().toLowerCase(Locale.ROOT))) {
        to.add(header.getKey(), header.getValue());
      }
    }
  }

  private static void netty(int listen, int upstream, int loops) throws InterruptedException {
    EventLoopGroup group = new MultiThreadIoEventLoopGroup(loops, EpollIoHandler.newFactory());
    new ServerBootstrap().group(group).channel(EpollServerSocketChannel.class)
        .option(ChannelOption.SO_BACKLOG, 4096)
        .childOption(ChannelOption.AUTO_READ, false)
        .childHandler(new ChannelInitializer<Channel>() {
          @Override
          protected void initChannel(Channel client) {
            client.pipeline().addLast(new HttpServerCodec(), new ClientSide(upstream));
          }
        })
        .bind(HOST, listen).sync();
  }

  /** Opens the client's own upstream connection on the client's event loop, then relays both ways. */
  private static final class ClientSide extends Relay {
    private final int upstreamPort;

    ClientSide(int upstreamPort) {
      this.upstreamPort = upstreamPort;
    }

    @Override
    public void channelActive(ChannelHandlerContext context) {
      Channel client = context.channel();
      new Bootstrap().group(client.eventLoop()).channel(EpollSocketChannel.class)
          .option(ChannelOption.TCP_NODELAY, true)
          .handler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel channel) {
              channel.pipeline().addLast(new HttpClientCodec(), new Relay().to(client));
            }
          })
          .connect(HOST, upstreamPort)
          .addListener((ChannelFutureListener) connected -> {
            if (connected.isSuccess()) {
              to(connected.channel());
              client.config().setAutoRead(true);
            } else {
              client.close();
            }
          });
    }
  }

  /**
   * Passes what one side decodes to the other side's encoder, flushed once per read from the
   * socket, as a proxy that batches its writes would.
   */
  private static class Relay extends ChannelInboundHandlerAdapter {
    private Channel to;

    Relay to(Channel other) {
      this.to = other;
      return this;
    }

    @Override
    public void channelRead(ChannelHandlerContext context, Object message) {
      if (to == null || !to.isActive()) {
        ReferenceCountUtil.release(message);
        context.close();
        return;
      }
      to.write(message);
    }

    @Override
    public void channelReadComplete(ChannelHandlerContext context) {
      if (to != null) {
        to.flush();
      }
    }

    @Override
    public void channelInactive(ChannelHandlerContext context) {
      if (to != null) {
        to.close();
      }
    }

    // wrk resets its connections when it stops: nothing to report.
    @Override
    public void exceptionCaught(ChannelHandlerContext context, Throwable cause) {
      context.close();
    }
  }
}
